/**
 * The built-in job kinds: one loader per kind. Importing a kind's index module registers it and
 * its `convoy plan <kind>` command; `loadAllBuiltInKinds` is for `--help` and tests.
 */
import { registerJobKindLoader } from './registry.js';

export const builtInKinds: Record<string, () => Promise<unknown>> = {
  's3-sync': () => import('./s3-sync/index.js'),
  'dynamodb-copy': () => import('./dynamodb-copy/index.js'),
  'pg-to-dynamodb': () => import('./pg-to-dynamodb/index.js'),
  'pg-to-s3': () => import('./pg-to-s3/index.js'),
  uploads: () => import('./uploads/index.js'),
};

for (const [name, load] of Object.entries(builtInKinds)) registerJobKindLoader(name, load);

export async function loadAllBuiltInKinds(): Promise<void> {
  await Promise.all(Object.values(builtInKinds).map((load) => load()));
}
