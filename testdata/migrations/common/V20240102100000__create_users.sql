CREATE TABLE users (
    id                         uuid      NOT NULL PRIMARY KEY,
    name                       text      NOT NULL,
    delius_username            text      NOT NULL UNIQUE,
    email                      text      DEFAULT 'unknown@digital.justice.gov.uk',
    telephone_number           text,
    probation_region_id        uuid      NOT NULL REFERENCES probation_regions (id),
    delius_staff_code          text      NOT NULL,
    is_active                  boolean   NOT NULL DEFAULT true,
    ap_area_id                 uuid      REFERENCES ap_areas (id),
    team_codes                 text,
    created_at                 timestamp,
    updated_at                 timestamp,
    probation_delivery_unit_id uuid      REFERENCES probation_delivery_units (id)
);
