-- Deliberately no unique key on (user_id, role) / (user_id, qualification): the real service has none.
CREATE TABLE user_role_assignments (
    id      uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    role    text NOT NULL
);
CREATE INDEX user_role_assignments_user_id_idx ON user_role_assignments (user_id);

CREATE TABLE user_qualification_assignments (
    id            uuid NOT NULL PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    qualification text NOT NULL
);
CREATE INDEX user_qualification_assignments_user_id_idx ON user_qualification_assignments (user_id);
