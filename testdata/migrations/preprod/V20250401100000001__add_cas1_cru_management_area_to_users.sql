-- Extra nullable column on a preserved table, FK to a preprod-only table.
ALTER TABLE users ADD COLUMN cas1_cru_management_area_id uuid NULL REFERENCES cas1_cru_management_areas (id);
