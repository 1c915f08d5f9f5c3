-- 17-digit version: the highest common version in Flyway (integer) order.
CREATE SEQUENCE booking_reference_seq START WITH 1000;
ALTER TABLE bookings ADD COLUMN reference text NOT NULL DEFAULT ('BK-' || nextval('booking_reference_seq'));
