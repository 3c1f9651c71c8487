/**
 * A preload for profiling a benchmarked process (`node --import <this file> ...`): counts every
 * outgoing HTTP request by endpoint and API action, via Node's built-in diagnostics channel
 * (no patching, no proxy), and writes the counts as JSON when the process exits.
 *
 * Environment:
 *   CONVOY_BENCH_HTTP_COUNT_FILE  where to write the counts (nothing is counted without it)
 *   CONVOY_BENCH_PORT_NAMES       JSON {"<port>": "<name>"} to name the endpoints
 *
 * Requests made in worker threads are not seen (each thread has its own channels); convoy's S3,
 * SQS and DynamoDB calls run on the main thread.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';

/** The API action of a request: the JSON protocols name it in x-amz-target, S3 in method + query. */
export function classifyRequest(method: string, path: string, target: string | undefined): string {
  if (target) return target.replace(/^AmazonSQS\./, 'SQS.').replace(/^DynamoDB_\d+\./, 'DynamoDB.');
  const [pathname, query = ''] = path.split('?');
  const params = new URLSearchParams(query);
  const segments = (pathname ?? '/').split('/').filter(Boolean);
  const onObject = segments.length > 1;
  if (method === 'GET' && !onObject)
    return params.get('list-type') === '2'
      ? 'S3.ListObjectsV2'
      : params.has('location')
        ? 'S3.GetBucketLocation'
        : 'S3.ListObjects';
  if (method === 'HEAD') return onObject ? 'S3.HeadObject' : 'S3.HeadBucket';
  if (method === 'GET') return 'S3.GetObject';
  if (method === 'PUT' && !onObject) return 'S3.CreateBucket';
  if (method === 'PUT') return params.has('partNumber') ? 'S3.UploadPart' : 'S3.PutObject(or CopyObject)';
  if (method === 'POST' && params.has('uploads')) return 'S3.CreateMultipartUpload';
  if (method === 'POST' && params.has('uploadId')) return 'S3.CompleteMultipartUpload';
  if (method === 'POST' && params.has('delete')) return 'S3.DeleteObjects';
  if (method === 'DELETE') return params.has('uploadId') ? 'S3.AbortMultipartUpload' : 'S3.DeleteObject';
  return `${method} ${segments.length ? '/…' : '/'}`;
}

const file = process.env.CONVOY_BENCH_HTTP_COUNT_FILE;
if (file) {
  const names: Record<string, string> = JSON.parse(process.env.CONVOY_BENCH_PORT_NAMES ?? '{}');
  const counts: Record<string, number> = {};
  const startedAtMs = Date.now();
  subscribe('http.client.request.start', (message) => {
    const request = (message as { request: ClientRequest }).request;
    const target = request.getHeader('x-amz-target');
    // CopyObject is a PUT with x-amz-copy-source: tell it apart from an upload
    const copy = request.getHeader('x-amz-copy-source') !== undefined;
    const port = String(request.getHeader('host') ?? '').split(':')[1] ?? '';
    const service = names[port] ?? port;
    // a UCAN peer is no S3: its requests by method and first path segment (POST /, GET /claims;
    // an identifier there, as a storage node's PUT /<digest>, is shown as /…)
    const first = request.path.split('?')[0]!.split('/').filter(Boolean)[0];
    const action = service.startsWith('ucan:')
      ? `${request.method} /${first === undefined ? '' : first.length > 16 ? '…' : first}`
      : copy
        ? 'S3.CopyObject'
        : classifyRequest(request.method, request.path, typeof target === 'string' ? target : undefined);
    const key = `${service} ${action}`;
    counts[key] = (counts[key] ?? 0) + 1;
  });
  process.on('exit', () => {
    writeFileSync(file, JSON.stringify({ pid: process.pid, durationMs: Date.now() - startedAtMs, counts }, null, 2));
  });
}
