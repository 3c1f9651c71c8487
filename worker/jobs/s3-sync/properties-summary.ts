/**
 * The one line `convoy status`, the API's run detail and the monitor show about what an s3-sync
 * run carries across besides bytes (object-properties.ts), and whether it copies every version
 * and mirrors deletions, and its rate control. Apart from that module so the plugin
 * object, loaded by every command, imports nothing heavy.
 */
export interface PropertiesSummarySpec {
  tags?: string;
  storageClass?: string;
  sse?: string;
  sseKmsKeyId?: string;
  acl?: string;
  allVersions?: boolean;
  delete?: boolean;
  rateControl?: string;
}

/** `tags copy, storage-class STANDARD_IA, sse aws:kms (alias/k), acl bucket-owner-full-control, rate-control adaptive` */
export function describeObjectProperties(spec: PropertiesSummarySpec): string {
  const parts = [`tags ${spec.tags ?? 'copy'}`, `storage-class ${spec.storageClass ?? 'bucket default'}`];
  parts.push(spec.sse ? `sse ${spec.sse}${spec.sseKmsKeyId ? ` (${spec.sseKmsKeyId})` : ''}` : 'sse bucket default');
  if (spec.acl) parts.push(`acl ${spec.acl}`);
  // what else decides which objects and versions arrive (versions-*.ts, deleter.ts)
  if (spec.allVersions) parts.unshift(spec.delete ? 'all versions (delete markers mirrored)' : 'all versions');
  else if (spec.delete) parts.unshift('delete (mirrors deletions)');
  // how the fleet meets a throttling destination (absent on runs planned before it existed: fixed)
  if (spec.rateControl) parts.push(`rate-control ${spec.rateControl}`);
  return parts.join(', ');
}
