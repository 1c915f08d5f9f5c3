CREATE TABLE probation_regions (
    id   uuid NOT NULL PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE ap_areas (
    id         uuid NOT NULL PRIMARY KEY,
    name       text NOT NULL,
    identifier text NOT NULL
);

CREATE TABLE probation_delivery_units (
    id                  uuid NOT NULL PRIMARY KEY,
    name                text NOT NULL,
    probation_region_id uuid NOT NULL REFERENCES probation_regions (id)
);
