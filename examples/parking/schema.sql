-- The parking migration's data (VisionDrive Parking, TimescaleDB -> DynamoDB), as plain PostgreSQL 15: the TimescaleDB
-- hypertable becomes an ordinary table and PostGIS locations become lat/lng columns, so the
-- example runs on any PostgreSQL. `updated_at` on events is what `--since` catch-up passes use.
CREATE TABLE IF NOT EXISTS parking_zones (
  zone_id         text PRIMARY KEY,
  name            text NOT NULL,
  address         text,
  city            text NOT NULL,
  total_bays      integer NOT NULL,
  lat             double precision,
  lng             double precision,
  price_per_hour  numeric(8,2) NOT NULL,
  operating_hours jsonb NOT NULL,
  tenant_id       text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS parking_bays (
  zone_id        text NOT NULL REFERENCES parking_zones(zone_id),
  bay_number     integer NOT NULL,
  sensor_id      text,
  status         text NOT NULL,
  last_change    timestamptz,
  occupied_since timestamptz,
  bay_type       text NOT NULL,
  lat            double precision,
  lng            double precision,
  PRIMARY KEY (zone_id, bay_number)
);

CREATE TABLE IF NOT EXISTS parking_sensors (
  sensor_id        text PRIMARY KEY,
  model            text NOT NULL,
  firmware_version text NOT NULL,
  install_date     date NOT NULL,
  zone_id          text NOT NULL,
  bay_number       integer NOT NULL,
  status           text NOT NULL,
  last_battery     integer,
  last_signal      integer
);

CREATE TABLE IF NOT EXISTS parking_events (
  id               bigserial PRIMARY KEY,
  zone_id          text NOT NULL,
  bay_number       integer NOT NULL,
  event_type       text NOT NULL,
  "timestamp"      timestamptz NOT NULL,
  duration_minutes integer,
  revenue          numeric(10,2),
  detection_mode   text NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS parking_events_ts ON parking_events ("timestamp", id);
CREATE INDEX IF NOT EXISTS parking_events_updated ON parking_events (updated_at);
