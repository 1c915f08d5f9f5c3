-- Preprod-only reference table (prod does not have it yet), seeded by the migration itself as the
-- service seeds its reference tables, so re-applying the migrations after a refresh brings the rows back.
CREATE TABLE cas1_cru_management_areas (
    id            uuid NOT NULL PRIMARY KEY,
    name          text NOT NULL,
    email_address text
);

INSERT INTO cas1_cru_management_areas (id, name, email_address)
SELECT md5('cru-area-' || i)::uuid, name, email
FROM unnest(
  ARRAY['North East CRU', 'North West CRU', 'Midlands CRU', 'South East & Eastern CRU', 'Women''s Estate CRU'],
  ARRAY['cru.ne@example.gov.uk', 'cru.nw@example.gov.uk', 'cru.mids@example.gov.uk', NULL, 'cru.womens@example.gov.uk']
) WITH ORDINALITY AS t(name, email, i);
