#!/usr/bin/env node
/**
 * Seed generator for the parking example: zones, bays, sensors and events, generated inside
 * PostgreSQL (generate_series; fast: 100k events in about a second) and deterministic for a given
 * --seed. Event times are skewed towards the recent past (most events in the last weeks), which
 * is what makes quantile key ranges matter.
 *
 *   node examples/parking/seed.mjs --db postgres://postgres@127.0.0.1:5432/parking --events 100000
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const SCHEMA_SQL = readFileSync(new URL('./schema.sql', import.meta.url), 'utf8');

/** Create the tables (idempotent). `db` is a pg Pool or Client. */
export async function createSchema(db) {
  await db.query(SCHEMA_SQL);
}

/**
 * Insert zones x baysPerZone bays (one sensor each) and `events` events, ending at `endIso`.
 * Returns the counts inserted.
 */
export async function seedParking(
  db,
  { zones = 20, baysPerZone = 10, events = 10000, seed = 0.42, endIso = '2025-01-01T00:00:00Z', firstEventId = 1 } = {},
) {
  await db.query('SELECT setseed($1)', [seed]);
  await db.query(
    `INSERT INTO parking_zones (zone_id, name, address, city, total_bays, lat, lng, price_per_hour, operating_hours, tenant_id, created_at)
     SELECT 'zone-' || lpad(z::text, 3, '0'), 'Zone ' || z, z || ' Sheikh Zayed Rd', (ARRAY['Dubai','Abu Dhabi','Sharjah'])[1 + z % 3],
            $2, 25.2 + z * 0.001, 55.27 + z * 0.001, (5 + z % 4)::numeric(8,2),
            jsonb_build_object('open', '06:00', 'close', CASE WHEN z % 2 = 0 THEN '22:00' ELSE '24:00' END, 'days', jsonb_build_array('mon','tue','wed','thu','fri')),
            'tenant-' || (z % 4), $3::timestamptz - interval '400 days'
     FROM generate_series(1, $1) z ON CONFLICT DO NOTHING`,
    [zones, baysPerZone, endIso],
  );
  await db.query(
    `INSERT INTO parking_bays (zone_id, bay_number, sensor_id, status, last_change, occupied_since, bay_type, lat, lng)
     SELECT 'zone-' || lpad(z::text, 3, '0'), b, 'PSL01B-' || z || '-' || b, CASE WHEN (z + b) % 3 = 0 THEN 'occupied' ELSE 'free' END,
            $3::timestamptz - (b || ' minutes')::interval, CASE WHEN (z + b) % 3 = 0 THEN $3::timestamptz - interval '1 hour' END,
            (ARRAY['standard','disabled','ev'])[1 + b % 3], 25.2 + z * 0.001 + b * 0.00001, 55.27 + z * 0.001
     FROM generate_series(1, $1) z, generate_series(1, $2) b ON CONFLICT DO NOTHING`,
    [zones, baysPerZone, endIso],
  );
  await db.query(
    `INSERT INTO parking_sensors (sensor_id, model, firmware_version, install_date, zone_id, bay_number, status, last_battery, last_signal)
     SELECT 'PSL01B-' || z || '-' || b, 'PSL01B', '1.' || (b % 5), ($3::date - 300 + b), 'zone-' || lpad(z::text, 3, '0'), b, 'active', 60 + (z * b) % 40, -70 - b % 30
     FROM generate_series(1, $1) z, generate_series(1, $2) b ON CONFLICT DO NOTHING`,
    [zones, baysPerZone, endIso],
  );
  await db.query(
    `INSERT INTO parking_events (id, zone_id, bay_number, event_type, "timestamp", duration_minutes, revenue, detection_mode, updated_at)
     SELECT i, 'zone-' || lpad((1 + (i * 7919) % $2)::text, 3, '0'), 1 + (i * 104729) % $3,
            CASE WHEN i % 2 = 0 THEN 'arrival' ELSE 'departure' END,
            ts, CASE WHEN i % 2 = 1 THEN 5 + (i % 240) END, CASE WHEN i % 2 = 1 THEN round(((i % 240) * 0.25)::numeric, 2) END,
            (ARRAY['magnetic','radar','camera'])[1 + i % 3], ts
     FROM (SELECT i, date_trunc('milliseconds', $5::timestamptz - (power(random(), 3) * interval '90 days')) AS ts
           FROM generate_series($4::bigint, $4::bigint + $1 - 1) i) g`,
    [events, zones, baysPerZone, firstEventId, endIso],
  );
  await db.query(`SELECT setval('parking_events_id_seq', (SELECT coalesce(max(id), 1) FROM parking_events))`);
  return { zones, bays: zones * baysPerZone, sensors: zones * baysPerZone, events };
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : def;
  };
  if (args.includes('--help')) {
    process.stdout.write(
      'usage: seed.mjs --db <postgres-url> [--zones 20] [--bays 10] [--events 10000] [--seed 0.42]\n',
    );
    return;
  }
  const db = new pg.Client({ connectionString: opt('db', 'postgres://postgres@127.0.0.1:5432/postgres') });
  await db.connect();
  try {
    await createSchema(db);
    const counts = await seedParking(db, {
      zones: Number(opt('zones', 20)),
      baysPerZone: Number(opt('bays', 10)),
      events: Number(opt('events', 10000)),
      seed: Number(opt('seed', 0.42)),
    });
    process.stdout.write(JSON.stringify(counts) + '\n');
  } finally {
    await db.end();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`seed failed: ${err.message}\n`);
    process.exit(1);
  });
}
