/**
 * Every error class convoy can record, in one table: its name (stored in item rows, shown by
 * `convoy monitor --failed`, matched by `convoy requeue --class`), whether it is retried, and
 * what an operator does about it. `ConvoyError` only accepts a name from this table, so a typo in
 * a class is a compile error instead of a new, silently different class in the monitor.
 *
 * `retryable` is what the code that raises the class passes; 'depends' marks the classes whose
 * flag is decided per failure (a UCAN peer's handler that crashed is retried, a refusal is not).
 * docs/monitor.md's table of classes is generated from this one (`npm run docs:error-classes`).
 */

export interface ErrorClassInfo {
  readonly retryable: boolean | 'depends';
  /** one line: what it means and what to do, for the monitor and the docs */
  readonly hint: string;
}

export const ERROR_CLASSES = {
  // ---- any job kind ------------------------------------------------------------------------
  BAD_INPUT: {
    retryable: false,
    hint: 'an option, config file or spec is invalid; fix the input the message names and run again',
  },
  SERVICE_UNAVAILABLE: {
    retryable: true,
    hint: 'a network fault or HTTP 5xx; retried with backoff; if it persists, check the endpoint is up',
  },
  THROTTLED: {
    retryable: true,
    hint: 'the service asked to slow down; retried with backoff; lower --concurrency or raise capacity',
  },
  LEASE_LOST: {
    retryable: true,
    hint: "another worker took the item over (this worker's lease ran out); nothing to do",
  },
  ACCESS_DENIED: {
    retryable: false,
    hint: "credentials were refused; fix the remote's credentials or policy, then requeue --class ACCESS_DENIED",
  },
  ABORTED: { retryable: true, hint: 'the request was aborted (shutdown or timeout); retried' },
  UNKNOWN: {
    retryable: true,
    hint: 'an error convoy does not recognise; retried a few times; read the message, fix, then requeue',
  },
  RUN_CANCELLED: { retryable: false, hint: 'the run was cancelled; cancelled runs are final: plan a new run' },
  RUN_STATE: {
    retryable: false,
    hint: 'the run left the planning state while being planned; check `convoy status` and plan a new run',
  },
  // ---- monitor (never stored in an item) -----------------------------------------------------
  NO_RUN: { retryable: true, hint: 'no runs yet; the dashboard waits for `convoy plan`' },
  TIMEOUT: {
    retryable: true,
    hint: "a dashboard refresh took too long; the next refresh tries again; check the state tables' latency",
  },
  // ---- s3-sync -----------------------------------------------------------------------------
  SOURCE_OBJECT_MISSING: {
    retryable: false,
    hint: 'a source object was deleted after listing; the rest of the range is copied; nothing to do',
  },
  PART_COPY_INCOMPLETE: {
    retryable: true,
    hint: 'a large object copied by parts across items is missing a part or its record; retried, and a later run copies the object again',
  },
  SOURCE_CHANGED: {
    retryable: true,
    hint: 'a source object changed while being copied, or was deleted since its range was listed at the cut; the range is listed again and retried',
  },
  CHECKSUM_MISMATCH: {
    retryable: true,
    hint: 'a destination object did not match its source; it is copied again; if it persists, check the destination',
  },
  // ---- table jobs (dynamodb-copy, pg-to-dynamodb, pg-to-s3) ----------------------------------
  TRANSFORM_FAILED: {
    retryable: false,
    hint: 'the transform module threw on the row the message names; fix the module, then requeue',
  },
  UNCONVERTIBLE_VALUE: {
    retryable: false,
    hint: 'a value DynamoDB cannot store (row and column in the message); fix the mapping or row, then requeue',
  },
  MISSING_KEY: {
    retryable: false,
    hint: 'a row has no usable destination key; fix the key template or the row, then requeue',
  },
  ITEM_TOO_LARGE: {
    retryable: false,
    hint: "an item is over DynamoDB's 400 KB limit after the transform; shrink it in the transform, then requeue",
  },
  WRITE_REJECTED: {
    retryable: false,
    hint: 'DynamoDB rejected a BatchWriteItem (ValidationException, reason in the message); fix, then requeue',
  },
  PG_TRANSACTION_ROLLBACK: {
    retryable: true,
    hint: 'PostgreSQL rolled the transaction back (serialization failure, deadlock); retried',
  },
  PG_QUERY_FAILED: {
    retryable: false,
    hint: 'PostgreSQL refused the query (SQLSTATE in the message); fix the query, table or grants, then requeue',
  },
  MANIFEST_MISSING: {
    retryable: false,
    hint: "the run's manifest on S3 cannot be read; check the bucket and that the export run is done",
  },
  // ---- uploads -----------------------------------------------------------------------------
  UPLOAD_NOT_FOUND: {
    retryable: false,
    hint: 'the upload is not in the source upload table; check the space and root',
  },
  NO_SHARDS_NO_INDEX: {
    retryable: false,
    hint: 'the upload has neither shards nor an index: nothing to rebuild it from',
  },
  SHARD_NOT_FOUND: {
    retryable: false,
    hint: 'a shard is in neither the allocation nor the store table, or not in the bucket; restore it, requeue',
  },
  SHARD_CORRUPT: {
    retryable: false,
    hint: "a shard's bytes do not match its CID; restore the shard from a good copy, then requeue",
  },
  INDEX_GENERATION_FAILED: {
    retryable: false,
    hint: 'the DAG index cannot be built (unverifiable hash or archive error); see the message',
  },
  INDEX_PUBLISH_FAILED: {
    retryable: 'depends',
    hint: 'the upload service or indexer refused the index; a crashed handler is retried, a refusal is not',
  },
  LOCATION_CLAIM_FAILED: {
    retryable: 'depends',
    hint: 'no location claim to re-publish, or the indexer refused it; run with --repair to rebuild claims',
  },
  GATEWAY_AUTH_FAILED: {
    retryable: 'depends',
    hint: 'the gateway did not accept the authorization; retried unless the gateway refused it',
  },
  MIGRATION_SPACE_FAILED: {
    retryable: 'depends',
    hint: 'provisioning the migration space failed; check the operator account and its proofs',
  },
  MIGRATION_SPACE_KEY_INVALID: {
    retryable: false,
    hint: 'a migration space key does not decrypt or match its DID; check the configured encryptionKey',
  },
  MISSING_DELEGATION: {
    retryable: false,
    hint: 'no usable delegation for the space; add it to the delegation table, then requeue',
  },
  UNAUTHORIZED: {
    retryable: false,
    hint: "a peer refused the UCAN proofs (unauthorized, expired, wrong audience); fix the agent's delegations",
  },
  INDEXER_QUERY_FAILED: { retryable: false, hint: "the indexing service's query failed; check the indexer peer" },
  VERIFICATION_FAILED: {
    retryable: true,
    hint: 'the migrated upload did not verify (problems in the message); retried',
  },
  UPLOAD_REJECTED: {
    retryable: false,
    hint: 'the upload service answered HTTP 4xx; check its URL, DID and the agent key',
  },
  INDEXER_REJECTED: { retryable: false, hint: 'the indexing service answered HTTP 4xx; check its URL and DID' },
  GATEWAY_REJECTED: { retryable: false, hint: 'the gateway answered HTTP 4xx; check its URL and DID' },
} as const satisfies Record<string, ErrorClassInfo>;

export type ErrorClass = keyof typeof ERROR_CLASSES;

/** The class names, in the table's order. */
export function knownErrorClasses(): ErrorClass[] {
  return Object.keys(ERROR_CLASSES) as ErrorClass[];
}

/**
 * The class a misspelled name most likely meant (`SHARD_NOT_FOUD` -> `SHARD_NOT_FOUND`), for the
 * refusal of an unknown `--class`; undefined when every class is more than a few edits away.
 */
export function nearestErrorClass(name: string): ErrorClass | undefined {
  const wanted = name.toUpperCase();
  let best: { name: ErrorClass; distance: number } | undefined;
  for (const known of knownErrorClasses()) {
    const distance = editDistance(wanted, known);
    if (!best || distance < best.distance) best = { name: known, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(wanted.length / 4)) ? best.name : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

export function isErrorClass(name: string): name is ErrorClass {
  return Object.hasOwn(ERROR_CLASSES, name);
}

/** The table entry of a class read back from an item row (undefined for a class no longer known). */
export function errorClassInfo(name: string): ErrorClassInfo | undefined {
  return isErrorClass(name) ? ERROR_CLASSES[name] : undefined;
}
