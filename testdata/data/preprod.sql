-- Preprod data (loaded after the common + preprod migrations and reference.sql). Deterministic, no random().
--
-- 70 users:
--   shared    s = 1..20 : same id AND delius_username as prod user s (md5('prod-user-' || s));
--                         even s renamed, s in (3, 7) have a different email
--   namesakes c = 1..10 : delius_username of prod user 20 + c, but id md5('preprod-user-' || c)  (identity collision)
--   preprod-only o = 1..40 : id md5('preprod-only-user-' || o), usernames PREPROD_ONLY_nn, PREPROD_O'NEIL,
--                         PREPROD_ŁUKASZ_É; o = 1..21 carry hostile names / emails / team codes
-- Every preprod user has employment_grade (NOT NULL, preprod-only column); some have cas1_cru_management_area_id.
-- The prod formulas (see prod.sql) are repeated here for the shared users and their roles.
SET client_encoding = 'UTF8';

CREATE TEMP TABLE roles8 AS
SELECT ARRAY['CAS1_ASSESSOR', 'CAS1_MATCHER', 'CAS1_MANAGER', 'CAS1_WORKFLOW_MANAGER',
             'CAS1_FUTURE_MANAGER', 'CAS3_REFERRER', 'CAS3_ASSESSOR', 'CAS1_CRU_MEMBER'] AS r,
       ARRAY['PIPE', 'LAO', 'ESAP', 'WOMENS', 'EMERGENCY'] AS q;

-- prod's role rows and qualification rows for prod users 1..30 (same formulas as prod.sql)
CREATE TEMP TABLE prod_roles AS
SELECT i, k, md5('prod-role-' || i || '-' || k)::uuid AS id, (SELECT r FROM roles8)[((i + 3 * k) % 8) + 1] AS role
FROM generate_series(1, 30) AS i, generate_series(0, 2) AS k WHERE k <= i % 3;
CREATE TEMP TABLE prod_quals AS
SELECT i, k, md5('prod-qual-' || i || '-' || k)::uuid AS id, (SELECT q FROM roles8)[((i + 2 * k) % 5) + 1] AS qualification
FROM generate_series(1, 30) AS i, generate_series(0, 1) AS k WHERE k < i % 3;

-- ---------------------------------------------------------------- shared users (same id, same username)
INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id,
                   delius_staff_code, is_active, ap_area_id, team_codes, created_at, updated_at,
                   probation_delivery_unit_id, cas1_cru_management_area_id, employment_grade)
SELECT md5('prod-user-' || s)::uuid,
       'Prod User ' || lpad(s::text, 4, '0') || CASE WHEN s % 2 = 0 THEN ' (renamed in preprod)' ELSE '' END,
       'DELIUS_USER_' || lpad(s::text, 4, '0'),
       CASE WHEN s IN (3, 7) THEN 'preprod.tester.' || s || '@digital.justice.gov.uk'
            WHEN s % 10 = 0 THEN NULL
            ELSE 'delius.user.' || s || '@justice.gov.uk' END,
       CASE WHEN s % 4 = 0 THEN NULL ELSE '0161 496 ' || lpad(s::text, 4, '0') END,
       md5('probation-region-' || ((s - 1) % 12 + 1))::uuid,
       'N07A' || lpad(s::text, 5, '0'),
       s % 17 <> 0,
       CASE WHEN s % 5 = 0 THEN NULL ELSE md5('ap-area-' || ((s - 1) % 6 + 1))::uuid END,
       CASE WHEN s % 3 = 0 THEN NULL ELSE 'N07T' || (s % 9) || ',N07U' || (s % 4) END,
       timestamp '2023-01-02 09:00:00' + s * interval '37 minutes',
       CASE WHEN s % 2 = 0 THEN timestamp '2025-04-20 10:00:00' + s * interval '1 minute'
            ELSE timestamp '2023-01-16 09:00:00' + s * interval '37 minutes' END,
       CASE WHEN s % 7 = 0 THEN NULL ELSE md5('pdu-' || ((s - 1) % 12 + 1))::uuid END,
       CASE WHEN s % 3 = 0 THEN md5('cru-area-' || (s % 5 + 1))::uuid END,
       (ARRAY['PO', 'PSO', 'SPO', 'ACO'])[(s % 4) + 1]
FROM generate_series(1, 20) AS s;

-- ---------------------------------------------------------------- namesakes (same username, different id)
INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id,
                   delius_staff_code, is_active, ap_area_id, team_codes, created_at, updated_at,
                   probation_delivery_unit_id, cas1_cru_management_area_id, employment_grade)
SELECT md5('preprod-user-' || c)::uuid,
       CASE c WHEN 1 THEN 'Siobhán O''Connor' WHEN 2 THEN 'Zoë "Zee" Müller' ELSE 'Preprod Namesake ' || c END,
       'DELIUS_USER_' || lpad((20 + c)::text, 4, '0'),
       'namesake.' || c || '@digital.justice.gov.uk',
       CASE WHEN c % 2 = 1 THEN NULL ELSE '0113 496 ' || lpad(c::text, 4, '0') END,
       md5('probation-region-' || (c % 12 + 1))::uuid,
       'N07P' || lpad(c::text, 5, '0'),
       true,
       md5('ap-area-' || (c % 6 + 1))::uuid,
       'PPT' || c,
       timestamp '2024-05-01 09:00:00' + c * interval '1 day',
       timestamp '2024-05-02 09:00:00' + c * interval '1 day',
       md5('pdu-' || (c % 12 + 1))::uuid,
       CASE WHEN c % 2 = 0 THEN md5('cru-area-' || (c % 5 + 1))::uuid END,
       (ARRAY['PO', 'PSO', 'SPO', 'ACO'])[(c % 4) + 1]
FROM generate_series(1, 10) AS c;

-- ---------------------------------------------------------------- preprod-only users, hostile values
CREATE TEMP TABLE hostile (o int PRIMARY KEY, name text NOT NULL, email text, team_codes text, employment_grade text);
INSERT INTO hostile (o, name, email, team_codes, employment_grade) VALUES
  ( 1, 'Róisín O''Brien',                     'o''brien@example.com',                  'N07''T1',                   'PO'),
  ( 2, 'Say "hello" to "Bob"',                '"quoted"@example.com',                  '"T1","T2"',                 'PSO'),
  ( 3, 'C:\Users\new\table \\ end\',          'back\slash@example.com',                'T\1\\T2',                   'SPO'),
  ( 4, E'tab\there',                          E'tab\t@example.com',                    E'T1\tT2',                   E'PO\tacting'),
  ( 5, E'line one\nline two',                 E'multi\nline@example.com',              E'T1\nT2',                   'PO'),
  ( 6, E'carriage\r\nreturn\rsolo',           E'cr\r@example.com',                     E'T1\rT2',                   'PSO'),
  ( 7, 'Renée Weiß Łukasz Ñoño',              'renée.weiß@exämple.com',                'ÉQUIPE-ß',                  'SPO'),
  ( 8, '王小明 / 김민준 / 山田太郎',           '王@例え.jp',                              'チーム1',                    'ACO'),
  ( 9, 'Emoji 😀🚀 👩‍💻',                      'emoji😀@example.com',                    '🚀',                         'PO'),
  (10, '''); DROP TABLE users; --',           'x''); DROP TABLE users; --@example.com', '''); DROP TABLE user_role_assignments; --', 'PSO'),
  (11, '',                                    '',                                      '',                          'SPO'),
  (12, '\N',                                  '\N',                                    '\N',                        'ACO'),
  (13, 'NULL',                                'NULL',                                  'NULL',                      'PO'),
  (14, E'before\n\\.\nafter',                 NULL,                                    E'\\.',                      'PSO'),
  (15, '  padded  ',                          ' spaced@example.com ',                  ' T1 , T2 ',                 'SPO'),
  (16, 'comma, separated; "quoted" | pipe',   'a,b@example.com',                       'T1,T2;T3|T4',               'ACO'),
  (17, repeat('Long', 2500),                  NULL,                                    repeat('T', 1000),           'PO'),
  (18, E'control \x01\x07\x1b[31m chars',     E'ctl\x01@example.com',                  E'\x1f',                     'PSO'),
  (19, '$$dollar$$ $tag$ quoting $1 :var',    '$1@example.com',                        ':''var'' :"var"',           'SPO'),
  (20, 'percent % under_score %s %d {}',      '%@example.com',                         '%',                         'ACO'),
  (21, E'zero\u200Bwidth and RTL \u202Etxet', E'\u00A0nbsp@example.com',               E'\uFEFFBOM',                'PO');

INSERT INTO users (id, name, delius_username, email, telephone_number, probation_region_id,
                   delius_staff_code, is_active, ap_area_id, team_codes, created_at, updated_at,
                   probation_delivery_unit_id, cas1_cru_management_area_id, employment_grade)
SELECT md5('preprod-only-user-' || o)::uuid,
       CASE WHEN h.o IS NULL THEN 'Preprod Only User ' || o ELSE h.name END,
       CASE o WHEN 39 THEN 'PREPROD_O''NEIL' WHEN 40 THEN 'PREPROD_ŁUKASZ_É'
              ELSE 'PREPROD_ONLY_' || lpad(o::text, 2, '0') END,
       CASE WHEN h.o IS NULL THEN 'preprod.only.' || o || '@digital.justice.gov.uk' ELSE h.email END,
       CASE WHEN o % 3 = 0 THEN NULL ELSE '020 7946 ' || lpad(o::text, 4, '0') END,
       md5('probation-region-' || ((o - 1) % 12 + 1))::uuid,
       'N07Q' || lpad(o::text, 5, '0'),
       o % 9 <> 0,
       CASE WHEN o % 4 = 0 THEN NULL ELSE md5('ap-area-' || ((o - 1) % 6 + 1))::uuid END,
       CASE WHEN h.o IS NULL THEN (CASE WHEN o % 5 = 0 THEN NULL ELSE 'PPO' || o END) ELSE h.team_codes END,
       timestamp '2024-06-01 09:00:00' + o * interval '1 day',
       CASE WHEN o % 2 = 0 THEN NULL ELSE timestamp '2024-06-02 09:00:00' + o * interval '1 day' END,
       CASE WHEN o % 6 = 0 THEN NULL ELSE md5('pdu-' || ((o - 1) % 12 + 13))::uuid END,
       CASE WHEN o % 3 = 1 THEN md5('cru-area-' || (o % 5 + 1))::uuid END,
       CASE WHEN h.o IS NULL THEN (ARRAY['PO', 'PSO', 'SPO', 'ACO'])[(o % 4) + 1] ELSE h.employment_grade END
FROM generate_series(1, 40) AS o
LEFT JOIN hostile h USING (o);

-- ---------------------------------------------------------------- roles
-- shared 1..5: prod's role rows exactly (same primary keys: already present after a refresh)
INSERT INTO user_role_assignments (id, user_id, role)
SELECT id, md5('prod-user-' || i)::uuid, role FROM prod_roles WHERE i BETWEEN 1 AND 5;
-- shared 6..10: prod's (user_id, role) under other primary keys: duplicates
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-role-' || i || '-' || k)::uuid, md5('prod-user-' || i)::uuid, role FROM prod_roles WHERE i BETWEEN 6 AND 10;
-- shared 11..20: differing roles: prod's first role (a duplicate) + CAS1_JANITOR (prod lacks it)
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-role-' || i || '-' || k)::uuid, md5('prod-user-' || i)::uuid, role FROM prod_roles WHERE i BETWEEN 11 AND 20 AND k = 0;
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-role-' || s || '-janitor')::uuid, md5('prod-user-' || s)::uuid, 'CAS1_JANITOR' FROM generate_series(11, 20) AS s;
-- namesakes: the roles of their prod namesake (duplicates once re-pointed to prod's id) + CAS1_APPEALS_MANAGER
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-role-namesake-' || (i - 20) || '-' || k)::uuid, md5('preprod-user-' || (i - 20))::uuid, role
FROM prod_roles WHERE i BETWEEN 21 AND 30;
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-role-namesake-' || c || '-appeals')::uuid, md5('preprod-user-' || c)::uuid, 'CAS1_APPEALS_MANAGER'
FROM generate_series(1, 10) AS c;
-- preprod-only: 1..3 roles each
INSERT INTO user_role_assignments (id, user_id, role)
SELECT md5('preprod-only-role-' || o || '-' || k)::uuid, md5('preprod-only-user-' || o)::uuid,
       (SELECT r FROM roles8)[((o + 5 * k) % 8) + 1]
FROM generate_series(1, 40) AS o, generate_series(0, 2) AS k WHERE k <= o % 3;

-- ---------------------------------------------------------------- qualifications (every preprod user has >= 1)
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT id, md5('prod-user-' || i)::uuid, qualification FROM prod_quals WHERE i BETWEEN 1 AND 5;
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('preprod-qual-' || i || '-' || k)::uuid, md5('prod-user-' || i)::uuid, qualification FROM prod_quals WHERE i BETWEEN 6 AND 20;
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('preprod-qual-' || s || '-extra')::uuid, md5('prod-user-' || s)::uuid, 'PIPE'
FROM generate_series(1, 20) AS s WHERE s % 3 = 0;
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('preprod-qual-namesake-' || (i - 20) || '-' || k)::uuid, md5('preprod-user-' || (i - 20))::uuid, qualification
FROM prod_quals WHERE i BETWEEN 21 AND 30;
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('preprod-qual-namesake-' || c || '-extra')::uuid, md5('preprod-user-' || c)::uuid, 'EMERGENCY'
FROM generate_series(1, 10) AS c WHERE (20 + c) % 3 = 0;
INSERT INTO user_qualification_assignments (id, user_id, qualification)
SELECT md5('preprod-only-qual-' || o || '-' || k)::uuid, md5('preprod-only-user-' || o)::uuid,
       (SELECT q FROM roles8)[((o + 3 * k) % 5) + 1]
FROM generate_series(1, 40) AS o, generate_series(0, 1) AS k WHERE k <= o % 2;

-- ---------------------------------------------------------------- preprod's own rows in the other tables
INSERT INTO applications (id, crn, created_by_user_id, created_at)
SELECT md5('preprod-application-' || a)::uuid, 'P' || lpad(a::text, 6, '0'),
       md5('preprod-only-user-' || (a % 40 + 1))::uuid, timestamp '2025-01-10 10:00:00' + a * interval '1 hour'
FROM generate_series(1, 30) AS a;
INSERT INTO assessments (id, application_id, allocated_to_user_id, status, created_at)
SELECT md5('preprod-assessment-' || a)::uuid, md5('preprod-application-' || a)::uuid,
       CASE WHEN a % 2 = 0 THEN md5('preprod-user-' || (a % 10 + 1))::uuid ELSE md5('prod-user-' || (a % 20 + 1))::uuid END,
       (enum_range(NULL::assessment_status))[(a % 4) + 1], timestamp '2025-01-10 12:00:00' + a * interval '1 hour'
FROM generate_series(1, 30) AS a;
INSERT INTO bookings (id, assessment_id, created_by_user_id, arrival_date, created_at)
SELECT md5('preprod-booking-' || b)::uuid, md5('preprod-assessment-' || b)::uuid,
       md5('preprod-only-user-' || (b % 40 + 1))::uuid, date '2025-02-01' + b, timestamp '2025-01-20 08:00:00' + b * interval '1 hour'
FROM generate_series(1, 10) AS b;
-- notes was renamed user_notes in preprod
INSERT INTO user_notes (author_id, body, created_at)
SELECT md5('preprod-only-user-' || (n % 40 + 1))::uuid, 'Preprod note ' || n, timestamp '2025-03-01 08:00:00' + n * interval '1 hour'
FROM generate_series(1, 25) AS n;
INSERT INTO user_notification_preferences (id, user_id, notification_type, enabled)
SELECT md5('preprod-pref-only-' || o)::uuid, md5('preprod-only-user-' || o)::uuid, 'EMAIL_ASSESSMENT_ALLOCATED', o % 4 <> 0
FROM generate_series(1, 40) AS o
UNION ALL
SELECT md5('preprod-pref-shared-' || s)::uuid, md5('prod-user-' || s)::uuid, 'EMAIL_BOOKING_MADE', true
FROM generate_series(1, 20) AS s;

DROP TABLE hostile, prod_roles, prod_quals, roles8;
