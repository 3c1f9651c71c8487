/**
 * What an s3-sync copy carries across besides bytes, content headers and user metadata: object
 * tags, the destination's storage class, its server-side encryption and a canned ACL
 * (`--tags`, `--storage-class`, `--sse`/`--sse-kms-key-id`, `--acl`). The spec fields and their
 * checks, and the request fields every write path sends (single PUT, CopyObject, multipart create).
 *
 * Cost: tags are carried without a request of their own wherever S3 allows it: CopyObject copies
 * them (x-amz-tagging-directive COPY); a streamed copy reads the GET answer's x-amz-tagging-count
 * and asks GetObjectTagging only when it is above 0, then sends the tags with the PUT or the
 * multipart create (x-amz-tagging). An untagged object costs no extra request. Only the copy by
 * parts of an object over CopyObject's limit (5 GiB on AWS) asks GetObjectTagging every time: its
 * HEAD does not say whether there are tags.
 */
import { GetObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { InputError } from '../../../shared/errors.js';
import type { ListedObject } from './decide.js';

/** AWS's storage classes (the x-amz-storage-class values S3 documents for PutObject). */
export const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'GLACIER_IR',
  'OUTPOSTS',
  'SNOW',
  'EXPRESS_ONEZONE',
] as const;

/** The canned ACLs S3 accepts on an object write (x-amz-acl). */
export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;

export const SSE_MODES = ['AES256', 'aws:kms'] as const;

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const KEY_ID = `(?:${UUID}|mrk-[0-9a-fA-F]{32})`;
const ALIAS = 'alias/[a-zA-Z0-9/_-]{1,250}';
const ARN = 'arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:';
/** A KMS key id, key ARN, alias name or alias ARN (what S3's x-amz-server-side-encryption-aws-kms-key-id takes). */
const KMS_KEY = new RegExp(`^(?:${KEY_ID}|${ALIAS}|${ARN}key/${KEY_ID}|${ARN}${ALIAS})$`);

export function isKmsKeyId(v: string): boolean {
  return KMS_KEY.test(v);
}

/** The spec fields (merged into the s3-sync spec schema). */
export const objectPropertiesShape = {
  /** copy: the source's tags go with each object (the default); none: destination objects get none */
  tags: z.enum(['copy', 'none']).default('copy'),
  /** the destination's storage class; keep: the source's, as listed; absent: the bucket's default */
  storageClass: z.enum([...STORAGE_CLASSES, 'keep']).optional(),
  /** server-side encryption of the destination objects; absent: the bucket's default */
  sse: z.enum(SSE_MODES).optional(),
  sseKmsKeyId: z
    .string()
    .refine(isKmsKeyId, 'not a KMS key id, key ARN, alias name (alias/...) or alias ARN')
    .optional(),
  /** a canned ACL for each destination object (cross-account: bucket-owner-full-control) */
  acl: z.enum(CANNED_ACLS).optional(),
};

export interface ObjectPropertiesSpec {
  tags: 'copy' | 'none';
  storageClass?: (typeof STORAGE_CLASSES)[number] | 'keep';
  sse?: (typeof SSE_MODES)[number];
  sseKmsKeyId?: string;
  acl?: (typeof CANNED_ACLS)[number];
}

export interface ObjectPropertiesCliOptions {
  tags?: string;
  storageClass?: string;
  sse?: string;
  sseKmsKeyId?: string;
  acl?: string;
}

/** The CLI's property options as spec fields, each bad value an InputError naming its flag. */
export function objectPropertiesFromCli(o: ObjectPropertiesCliOptions): Partial<ObjectPropertiesSpec> {
  const oneOf = <T extends string>(flag: string, v: string | undefined, valid: readonly T[], what: string) => {
    if (v === undefined || (valid as readonly string[]).includes(v)) return v as T | undefined;
    throw new InputError(`${flag}: "${v}" is not ${what}; use one of: ${valid.join(', ')}`);
  };
  const tags = oneOf('--tags', o.tags, ['copy', 'none'] as const, 'a tag mode');
  const storageClass = oneOf(
    '--storage-class',
    o.storageClass,
    [...STORAGE_CLASSES, 'keep'] as const,
    "a storage class (AWS's names, or keep for the source's)",
  );
  const sse = oneOf('--sse', o.sse, SSE_MODES, 'a server-side encryption');
  if (o.sseKmsKeyId !== undefined && sse !== 'aws:kms')
    throw new InputError(
      `--sse-kms-key-id needs --sse aws:kms (the key encrypts only SSE-KMS objects); add --sse aws:kms or drop the key`,
    );
  if (o.sseKmsKeyId !== undefined && !isKmsKeyId(o.sseKmsKeyId))
    throw new InputError(
      `--sse-kms-key-id: "${o.sseKmsKeyId}" is not a KMS key id, key ARN, alias name or alias ARN; e.g. 1234abcd-12ab-34cd-56ef-1234567890ab, arn:aws:kms:us-east-1:111122223333:key/1234abcd-..., alias/my-key`,
    );
  const acl = oneOf('--acl', o.acl, CANNED_ACLS, 'a canned ACL');
  return { tags, storageClass, sse, sseKmsKeyId: o.sseKmsKeyId, acl };
}

/**
 * The one rule zod's field-by-field shape does not hold: a KMS key only with SSE-KMS (a spec
 * planned through the API, not the CLI, is checked here, at preflight).
 */
export function checkObjectProperties(spec: Partial<ObjectPropertiesSpec>): void {
  if (spec.sseKmsKeyId !== undefined && spec.sse !== 'aws:kms')
    throw new InputError(`sseKmsKeyId needs sse "aws:kms" (the key encrypts only SSE-KMS objects)`);
}

/** What one destination write sets, resolved for one object (`keep` is the source's class). */
export interface WriteProperties {
  storageClass?: string;
  sse?: string;
  sseKmsKeyId?: string;
  acl?: string;
}

export function writePropertiesFor(spec: Partial<ObjectPropertiesSpec>, obj: ListedObject): WriteProperties {
  const storageClass = spec.storageClass === 'keep' ? obj.storageClass : spec.storageClass;
  return {
    storageClass: storageClass || undefined,
    sse: spec.sse,
    sseKmsKeyId: spec.sseKmsKeyId,
    acl: spec.acl,
  };
}

/** The request headers of the lean client (object-client.ts) for a write with these properties. */
export function propertyHeaders(p: WriteProperties, tagging?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (p.storageClass) h['x-amz-storage-class'] = p.storageClass;
  if (p.sse) h['x-amz-server-side-encryption'] = p.sse;
  if (p.sseKmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = p.sseKmsKeyId;
  if (p.acl) h['x-amz-acl'] = p.acl;
  if (tagging) h['x-amz-tagging'] = tagging;
  return h;
}

/** The same as SDK command fields (multipart uploads and copies by parts go through the SDK). */
export function sdkPropertyFields(p: WriteProperties, tagging?: string) {
  return {
    ...(p.storageClass ? { StorageClass: p.storageClass as never } : {}),
    ...(p.sse ? { ServerSideEncryption: p.sse as never } : {}),
    ...(p.sseKmsKeyId ? { SSEKMSKeyId: p.sseKmsKeyId } : {}),
    ...(p.acl ? { ACL: p.acl as never } : {}),
    ...(tagging ? { Tagging: tagging } : {}),
  };
}

/** A tag set as x-amz-tagging wants it: URL query form, each key and value percent-encoded. */
export function encodeTagging(tags: ReadonlyArray<{ Key?: string; Value?: string }>): string {
  return tags.map((t) => `${encodeURIComponent(t.Key ?? '')}=${encodeURIComponent(t.Value ?? '')}`).join('&');
}

export interface TagPair {
  Key: string;
  Value: string;
}

/** An object's tags (GetObjectTagging); undefined when it has none. */
export async function tagSetOf(
  s3: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<TagPair[] | undefined> {
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  const tags = (out.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  return tags.length ? tags : undefined;
}
