-- dbrefresh benchmark data: the three preserved tables at a given size, deterministic (md5-derived ids, no
-- random()), so every run of scripts/bench.sh at a given --scale measures the same rows.
--
--   psql -v users=N -v preprod=1|0 -f gen-users.sql     (as a superuser, on a copy of cas_template)
--
-- users: N rows; user_role_assignments: 5 per user (5 N); user_qualification_assignments: 2 per user (2 N).
-- At N = 200,000 (scale 1): 200,000 / 1,000,000 / 400,000 rows, SPEC section 10's target size.
-- On preprod (preprod=1) every 10th user is preprod-only (another id and username); the others have the
-- same id and username as on prod (preprod=0). Preprod users also fill cas1_cru_management_area_id and
-- employment_grade (NOT NULL there), columns prod does not have.
-- The three tables are emptied first (CASCADE: the tables that reference users are emptied too).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- The rows are consistent by construction: skip the per-row foreign-key triggers while generating.
SET session_replication_role = replica;
TRUNCATE users, user_role_assignments, user_qualification_assignments CASCADE;

CREATE TEMP TABLE bench_ids AS
SELECT i,
       CASE WHEN :preprod = 1 AND i % 10 = 0 THEN md5('bench-preprod-user-' || i) ELSE md5('bench-user-' || i) END::uuid AS id,
       CASE WHEN :preprod = 1 AND i % 10 = 0 THEN 'PREPROD_BENCH_' ELSE 'BENCH_' END AS prefix
FROM generate_series(1, :users) AS i;

-- The columns both sides have, computed once; preprod adds the two columns only it has.
CREATE TEMP TABLE bench_users AS
SELECT b.i, b.id,
       initcap(b.prefix) || 'User ' || lpad(i::text, 7, '0') AS name,
       b.prefix || 'USER_' || lpad(i::text, 7, '0') AS delius_username,
       CASE WHEN i % 10 = 3 THEN NULL ELSE 'bench.user.' || i || '@justice.gov.uk' END AS email,
       CASE WHEN i % 4 = 0 THEN NULL ELSE '0161 496 ' || lpad((i % 10000)::text, 4, '0') END AS telephone_number,
       md5('probation-region-' || ((i - 1) % 12 + 1))::uuid AS probation_region_id,
       'B07A' || lpad(i::text, 7, '0') AS delius_staff_code,
       i % 17 <> 0 AS is_active,
       CASE WHEN i % 5 = 0 THEN NULL ELSE md5('ap-area-' || ((i - 1) % 6 + 1))::uuid END AS ap_area_id,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'N07T' || (i % 9) || ',N07U' || (i % 4) END AS team_codes,
       timestamp '2020-01-02 09:00:00' + i * interval '7 minutes' AS created_at,
       timestamp '2020-01-16 09:00:00' + i * interval '7 minutes' AS updated_at,
       CASE WHEN i % 7 = 0 THEN NULL ELSE md5('pdu-' || ((i - 1) % 30 + 1))::uuid END AS probation_delivery_unit_id
FROM bench_ids b;

\if :preprod
INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id, delius_staff_code,
                   is_active, ap_area_id, team_codes, created_at, updated_at, probation_delivery_unit_id,
                   cas1_cru_management_area_id, employment_grade)
SELECT u.id, u.name, u.delius_username, u.email, u.telephone_number, u.probation_region_id, u.delius_staff_code,
       u.is_active, u.ap_area_id, u.team_codes, u.created_at, u.updated_at, u.probation_delivery_unit_id,
       CASE WHEN u.i % 4 = 0 THEN cru.ids[(u.i / 4) % cardinality(cru.ids) + 1] END,
       (ARRAY['PO', 'PSO', 'SPO', 'ACO', 'PQIP'])[u.i % 5 + 1]
FROM bench_users u,
     (SELECT array_agg(id ORDER BY id) AS ids FROM cas1_cru_management_areas) AS cru;
\else
INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id, delius_staff_code,
                   is_active, ap_area_id, team_codes, created_at, updated_at, probation_delivery_unit_id)
SELECT id, name, delius_username, email, telephone_number, probation_region_id, delius_staff_code,
       is_active, ap_area_id, team_codes, created_at, updated_at, probation_delivery_unit_id
FROM bench_users;
\endif

-- 5 roles per user: roles[((i + 3k) % 8) + 1], k = 0..4, all distinct for one user.
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5(b.id::text || '-role-' || k)::uuid,
       b.id,
       (ARRAY['CAS1_ASSESSOR', 'CAS1_MATCHER', 'CAS1_MANAGER', 'CAS1_WORKFLOW_MANAGER',
              'CAS1_FUTURE_MANAGER', 'CAS3_REFERRER', 'CAS3_ASSESSOR', 'CAS1_CRU_MEMBER'])[((b.i + 3 * k) % 8) + 1]
FROM bench_ids b, generate_series(0, 4) AS k;

-- 2 qualifications per user: quals[((i + 2k) % 5) + 1], k = 0..1.
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5(b.id::text || '-qual-' || k)::uuid,
       b.id,
       (ARRAY['PIPE', 'LAO', 'ESAP', 'WOMENS', 'EMERGENCY'])[((b.i + 2 * k) % 5) + 1]
FROM bench_ids b, generate_series(0, 1) AS k;

RESET session_replication_role;
VACUUM (ANALYZE) users, user_role_assignments, user_qualification_assignments;
