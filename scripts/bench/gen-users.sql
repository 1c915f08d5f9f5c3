-- dbrefresh benchmark data: the three preserved tables at a given size, deterministic (md5-derived ids, no
-- random()), so every run of scripts/bench.sh at a given --scale measures the same rows.
--
--   psql -v users=N -v shape=prod|weekly|first -f gen-users.sql     (as a superuser, on a copy of cas_template)
--
-- prod: N users, 5 role rows and 2 qualification rows each. At N = 200,000 (scale 1): 200,000 / 1,000,000 /
-- 400,000 rows, SPEC section 10's target size.
-- weekly, the steady state of a weekly refresh (issue 15): preprod is last week's prod plus its own people.
--   Prod's users minus the newest 1% (created on prod since); 1% of them lack a role prod granted since (their
--   fifth); 1% have an older name than prod's; plus 300 preprod-only people (their own ids and usernames) with
--   5 roles and 2 qualifications each.
-- first, the first refresh: preprod holds only its own 300 people.
-- Preprod's users (weekly, first) also fill cas1_cru_management_area_id and employment_grade (NOT NULL there),
-- columns prod does not have.
-- The three tables are emptied first (CASCADE: the tables that reference users are emptied too).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- The rows are consistent by construction: skip the per-row foreign-key triggers while generating.
SET session_replication_role = replica;
TRUNCATE users, user_role_assignments, user_qualification_assignments CASCADE;

SELECT :'shape' IN ('prod', 'weekly', 'first') AS shape_known, :'shape' <> 'prod' AS preprod \gset
\if :shape_known
\else
  DO $$ BEGIN RAISE EXCEPTION 'gen-users.sql: -v shape must be prod, weekly or first'; END $$;
\endif

-- Prod's people are numbered 1..N; preprod's own 300 come after them, with ids and usernames of their own.
CREATE TEMP TABLE bench_ids AS
SELECT i, md5('bench-user-' || i)::uuid AS id, 'BENCH_' AS prefix, false AS own
FROM generate_series(1, :users) AS i
WHERE :'shape' = 'prod' OR (:'shape' = 'weekly' AND i <= :users - :users / 100)
UNION ALL
SELECT :users + j, md5('bench-preprod-user-' || j)::uuid, 'PREPROD_BENCH_', true
FROM generate_series(1, 300) AS j
WHERE :'shape' <> 'prod';

-- The columns both sides have, computed once; preprod adds the two columns only it has.
CREATE TEMP TABLE bench_users AS
SELECT b.i, b.id,
       CASE WHEN :'shape' = 'weekly' AND NOT b.own AND i % 100 = 50 THEN 'Formerly ' ELSE '' END
         || initcap(b.prefix) || 'User ' || lpad(i::text, 7, '0') AS name,
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

-- 5 roles per user: roles[((i + 3k) % 8) + 1], k = 0..4, all distinct for one user; on the weekly preprod, 1% of
-- prod's people lack the fifth (granted on prod since).
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5(b.id::text || '-role-' || k)::uuid,
       b.id,
       (ARRAY['CAS1_ASSESSOR', 'CAS1_MATCHER', 'CAS1_MANAGER', 'CAS1_WORKFLOW_MANAGER',
              'CAS1_FUTURE_MANAGER', 'CAS3_REFERRER', 'CAS3_ASSESSOR', 'CAS1_CRU_MEMBER'])[((b.i + 3 * k) % 8) + 1]
FROM bench_ids b, generate_series(0, 4) AS k
WHERE NOT (:'shape' = 'weekly' AND NOT b.own AND b.i % 100 = 25 AND k = 4);

-- 2 qualifications per user: quals[((i + 2k) % 5) + 1], k = 0..1.
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5(b.id::text || '-qual-' || k)::uuid,
       b.id,
       (ARRAY['PIPE', 'LAO', 'ESAP', 'WOMENS', 'EMERGENCY'])[((b.i + 2 * k) % 5) + 1]
FROM bench_ids b, generate_series(0, 1) AS k;

RESET session_replication_role;
VACUUM (ANALYZE) users, user_role_assignments, user_qualification_assignments;
