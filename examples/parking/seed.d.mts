export const SCHEMA_SQL: string;
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}
export function createSchema(db: Queryable): Promise<void>;
export function seedParking(
  db: Queryable,
  opts?: {
    zones?: number;
    baysPerZone?: number;
    events?: number;
    seed?: number;
    endIso?: string;
    firstEventId?: number;
  },
): Promise<{ zones: number; bays: number; sensors: number; events: number }>;
