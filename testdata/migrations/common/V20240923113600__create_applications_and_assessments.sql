-- 14-digit version. Numerically it is LOWER than V2024031509300012 (16 digits), so Flyway
-- applies it first even though it sorts AFTER that file as a string. The 16-digit migration
-- depends on this one: applying the files in string order fails.
CREATE TYPE assessment_status AS ENUM ('NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'REALLOCATED');

CREATE TABLE applications (
    id                 uuid      NOT NULL PRIMARY KEY,
    crn                text      NOT NULL,
    created_by_user_id uuid      NOT NULL REFERENCES users (id),
    created_at         timestamp NOT NULL
);

CREATE TABLE assessments (
    id                   uuid              NOT NULL PRIMARY KEY,
    application_id       uuid              NOT NULL REFERENCES applications (id),
    allocated_to_user_id uuid              REFERENCES users (id),
    status               assessment_status NOT NULL DEFAULT 'NOT_STARTED',
    created_at           timestamp         NOT NULL
);
