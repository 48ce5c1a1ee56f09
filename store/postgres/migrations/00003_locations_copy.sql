-- Vehicle locations are written by plain COPY (the bulk of the rows): the
-- unique constraint that forced a staging table goes, a plain index keeps
-- track queries fast. Risk events keep theirs (exactly once).

-- +goose Up
ALTER TABLE vehicle_locations DROP CONSTRAINT vehicle_locations_vehicle_id_time_key;
CREATE INDEX vehicle_locations_vehicle_time ON vehicle_locations (vehicle_id, time);

-- +goose Down
DROP INDEX vehicle_locations_vehicle_time;
ALTER TABLE vehicle_locations ADD UNIQUE (vehicle_id, time);
