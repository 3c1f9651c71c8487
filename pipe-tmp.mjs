import { S3Requests } from './dist/shared/s3-requests.js';
import { readFileSync } from 'node:fs';
const st = JSON.parse(readFileSync('/tmp/lp/.convoy/stack.json','utf8'));
const src = new S3Requests({ ...st.remotes.minio, name: 'minio' });
const dst = new S3Requests({ ...st.remotes.local, name: 'local' });
const N = Number(process.env.N ?? 60), K = Number(process.env.K ?? 8);
async function one(i) {
  const res = await src.getStream('chunks', 'big');
  const put = await dst.send('PUT', 'chunks', `copy-${i}`, { 'content-length': String(res.headers['content-length']) }, res, undefined);
  for await (const _ of put) {}
}
await one(-1);
const c0 = process.cpuUsage(); const t0 = performance.now();
let next = 0; await Promise.all(Array.from({ length: K }, async () => { while (next < N) await one(next++); }));
const c = process.cpuUsage(c0);
console.error(`cpu ${((c.user + c.system) / 1000 / N).toFixed(1)} ms/obj (sys ${(c.system / 1000 / N).toFixed(1)}), wall ${((performance.now() - t0) / N).toFixed(1)} ms/obj`);
src.destroy(); dst.destroy();
