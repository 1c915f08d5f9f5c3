-- Prod data (loaded after the common migrations and reference.sql). Deterministic: md5-derived ids, no random().
-- psql variable prod_users (default 300) scales the user count for benchmarks; expected.json assumes 300.
-- Users 1..20 are also in preprod with the same id and username; users 21..30 have a preprod namesake
-- (same delius_username) under a different id: see preprod.sql.
SET client_encoding = 'UTF8';
\if :{?prod_users}
\else
\set prod_users 300
\endif

INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id,
                   delius_staff_code, is_active, ap_area_id, team_codes, created_at, updated_at,
                   probation_delivery_unit_id)
SELECT md5('prod-user-' || i)::uuid,
       'Prod User ' || lpad(i::text, greatest(4, length(i::text)), '0'),
       'DELIUS_USER_' || lpad(i::text, greatest(4, length(i::text)), '0'),
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'delius.user.' || i || '@justice.gov.uk' END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE '0161 496 ' || lpad((i % 10000)::text, 4, '0') END,
       md5('probation-region-' || ((i - 1) % 12 + 1))::uuid,
       'N07A' || lpad(i::text, greatest(5, length(i::text)), '0'),
       i % 17 <> 0,
       CASE WHEN i % 5 = 0 THEN NULL ELSE md5('ap-area-' || ((i - 1) % 6 + 1))::uuid END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'N07T' || (i % 9) || ',N07U' || (i % 4) END,
       timestamp '2023-01-02 09:00:00' + i * interval '37 minutes',
       timestamp '2023-01-16 09:00:00' + i * interval '37 minutes',
       CASE WHEN i % 7 = 0 THEN NULL ELSE md5('pdu-' || ((i - 1) % 12 + 1))::uuid END
FROM generate_series(1, :prod_users) AS i;

-- 1..3 roles per user: role k (k = 0 .. i % 3) is roles[((i + 3k) % 8) + 1] (distinct for k <= 2).
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('prod-role-' || i || '-' || k)::uuid,
       md5('prod-user-' || i)::uuid,
       (ARRAY['CAS1_ASSESSOR', 'CAS1_MATCHER', 'CAS1_MANAGER', 'CAS1_WORKFLOW_MANAGER',
              'CAS1_FUTURE_MANAGER', 'CAS3_REFERRER', 'CAS3_ASSESSOR', 'CAS1_CRU_MEMBER'])[((i + 3 * k) % 8) + 1]
FROM generate_series(1, :prod_users) AS i,
     generate_series(0, 2) AS k
WHERE k <= i % 3;

-- 0..2 qualifications per user: qualification k (k < i % 3) is quals[((i + 2k) % 5) + 1].
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('prod-qual-' || i || '-' || k)::uuid,
       md5('prod-user-' || i)::uuid,
       (ARRAY['PIPE', 'LAO', 'ESAP', 'WOMENS', 'EMERGENCY'])[((i + 2 * k) % 5) + 1]
FROM generate_series(1, :prod_users) AS i,
     generate_series(0, 1) AS k
WHERE k < i % 3;

-- Tables that reference users(id).
INSERT INTO applications (id, crn, created_by_user_id, created_at)
SELECT md5('prod-application-' || a)::uuid,
       'X' || lpad(a::text, 6, '0'),
       md5('prod-user-' || ((a * 7) % :prod_users + 1))::uuid,
       timestamp '2024-02-01 10:00:00' + a * interval '3 hours'
FROM generate_series(1, 400) AS a;

INSERT INTO assessments (id, application_id, allocated_to_user_id, status, created_at)
SELECT md5('prod-assessment-' || a)::uuid,
       md5('prod-application-' || a)::uuid,
       CASE WHEN a % 9 = 0 THEN NULL ELSE md5('prod-user-' || ((a * 11) % :prod_users + 1))::uuid END,
       (enum_range(NULL::assessment_status))[(a % 4) + 1],
       timestamp '2024-02-01 12:00:00' + a * interval '3 hours'
FROM generate_series(1, 400) AS a;

INSERT INTO bookings (id, assessment_id, created_by_user_id, arrival_date, created_at)
SELECT md5('prod-booking-' || b)::uuid,
       md5('prod-assessment-' || b)::uuid,
       md5('prod-user-' || ((b * 13) % :prod_users + 1))::uuid,
       date '2024-03-01' + b,
       timestamp '2024-02-20 08:00:00' + b * interval '5 hours'
FROM generate_series(1, 200) AS b;

-- notes.id is an identity column: values 1..300 from its sequence.
INSERT INTO notes (author_id, body, created_at)
SELECT md5('prod-user-' || ((n * 17) % :prod_users + 1))::uuid,
       'Prod note ' || n,
       timestamp '2024-04-01 08:00:00' + n * interval '2 hours'
FROM generate_series(1, 300) AS n;
