-- Reference data, identical on prod and preprod (loaded by load-testdata.sh before prod.sql / preprod.sql),
-- so that every preprod user's region / AP area / PDU also exists on prod.
-- Deterministic: ids are md5-derived, no random().
SET client_encoding = 'UTF8';

INSERT INTO probation_regions (id, name)
SELECT md5('probation-region-' || i)::uuid, name
FROM unnest(ARRAY[
  'North East', 'North West', 'Yorkshire and the Humber', 'East Midlands', 'West Midlands',
  'East of England', 'Wales', 'London', 'Kent, Surrey and Sussex', 'South West', 'South Central',
  'Greater Manchester'
]) WITH ORDINALITY AS t(name, i);

INSERT INTO ap_areas (id, name, identifier)
SELECT md5('ap-area-' || i)::uuid, name, identifier
FROM unnest(
  ARRAY['North East', 'North West', 'Midlands', 'South East & Eastern', 'South West & South Central', 'London'],
  ARRAY['NE', 'NW', 'Mids', 'SEE', 'SWSC', 'Lon']
) WITH ORDINALITY AS t(name, identifier, i);

-- 30 PDUs; PDU i belongs to region ((i - 1) % 12) + 1, so region r owns PDUs r, r + 12, r + 24.
INSERT INTO probation_delivery_units (id, name, probation_region_id)
SELECT md5('pdu-' || i)::uuid,
       r.name || ' PDU ' || ((i - 1) / 12 + 1),
       r.id
FROM generate_series(1, 30) AS i
JOIN probation_regions r ON r.id = md5('probation-region-' || ((i - 1) % 12 + 1))::uuid;
