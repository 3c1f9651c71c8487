import { readFileSync } from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseGnuTime,
  processCpuSeconds,
  processPeakRssKiB,
  quoteForDisplay,
  runMeasured,
  startMeasured,
} from './command.js';
import { BodyFactory, caseObjects, compareListing, KiB, sampleObjects, totalBytes } from './data.js';
import {
  awsSyncArgv,
  peerEnv,
  rcloneCopyArgv,
  renderAwsConfig,
  renderRcloneConfig,
  writePeerConfigs,
} from './peers.js';
import { areaOf, selfTimes, sourceMapped, summariseProfile } from './cpu-profile.js';
import { classifyRequest } from './http-count.js';
import { formatRequestCounts, profileFileIds } from './profile-report.js';
import {
  addRatios,
  checkTargets,
  formatMarkdown,
  formatTable,
  medianIndex,
  toolResult,
  type ToolEntry,
  type ToolName,
} from './results.js';

const dir = mkdtempSync(path.join(tmpdir(), 'bench-lib-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GNU time output', () => {
  it('parses the tagged line', () => {
    expect(parseGnuTime('convoy-bench-rusage 123456 1.25 0.50 3.01\n')).toEqual({
      peakRssKiB: 123456,
      userCpuS: 1.25,
      sysCpuS: 0.5,
      elapsedS: 3.01,
    });
  });
  it('parses it after a "terminated by signal" line', () => {
    expect(parseGnuTime('Command terminated by signal 9\nconvoy-bench-rusage 2048 0.00 0.01 0.20\n')?.peakRssKiB).toBe(
      2048,
    );
  });
  it('rejects anything else', () => {
    expect(parseGnuTime('')).toBeUndefined();
    expect(parseGnuTime('convoy-bench-rusage x y z w')).toBeUndefined();
  });
});

describe('measured commands', () => {
  it('reports the peak RSS, CPU and exit code of a real child', async () => {
    // 64 MiB touched page by page: the peak must show it
    const r = await runMeasured(
      [process.execPath, '-e', 'const b = Buffer.alloc(64 * 1024 * 1024, 1); console.log(b[123])'],
      { logDir: dir, label: 'alloc' },
    );
    expect(r.exitCode).toBe(0);
    expect(r.peakRssKiB).toBeGreaterThan(64 * 1024);
    expect(r.userCpuS + r.sysCpuS).toBeGreaterThan(0);
    expect(readFileSync(r.stdoutPath, 'utf8').trim()).toBe('1');
  });
  it('throws with the stderr tail on failure', async () => {
    await expect(
      runMeasured([process.execPath, '-e', 'console.error("boom-42"); process.exit(3)'], {
        logDir: dir,
        label: 'fail',
      }),
    ).rejects.toThrow(/exit 3[\s\S]*boom-42/);
  });
  it('kills a command that runs past its timeout', async () => {
    const r = await startMeasured([process.execPath, '-e', 'setInterval(() => {}, 1000)'], {
      logDir: dir,
      label: 'hang',
      timeoutMs: 300,
    }).done;
    expect(r.exitCode).not.toBe(0);
  });
  it('reads CPU and peak RSS of a live process', () => {
    expect(processCpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(processPeakRssKiB(process.pid)).toBeGreaterThan(1024);
    expect(processCpuSeconds(2 ** 22 + 12345)).toBeUndefined();
  });
  it('quotes argv for display', () => {
    expect(quoteForDisplay(['rclone', 'copy', 'a:b', "it's here"])).toBe(`rclone copy a:b 'it'\\''s here'`);
  });
});

describe('benchmark data', () => {
  it('builds the case objects under several prefixes', () => {
    const objs = caseObjects('a', 45, 16 * KiB, 20);
    expect(objs).toHaveLength(45);
    expect(new Set(objs.map((o) => o.key)).size).toBe(45);
    expect(new Set(objs.map((o) => o.key.split('/')[1])).size).toBe(20);
    expect(totalBytes(objs)).toBe(45 * 16 * KiB);
  });
  it('makes bodies that are deterministic, of the right size and different per key', () => {
    const f = new BodyFactory(64 * KiB);
    const a1 = f.body('a/p00/obj-1', 64 * KiB);
    expect(a1.length).toBe(64 * KiB);
    expect(f.body('a/p00/obj-1', 64 * KiB).equals(a1)).toBe(true);
    expect(f.body('a/p00/obj-2', 64 * KiB).equals(a1)).toBe(false);
    expect(a1.subarray(0, 12).toString()).toBe('a/p00/obj-1\n');
    expect(f.body('k', 3).length).toBe(3);
  });
  it('finds missing, wrong-size and extra objects', () => {
    const expected = [
      { key: 'x/1', size: 10 },
      { key: 'x/2', size: 10 },
      { key: 'x/3', size: 10 },
    ];
    const listing = new Map([
      ['x/1', 10],
      ['x/3', 9],
      ['x/4', 10],
    ]);
    expect(compareListing(expected, listing)).toEqual({
      expected: 3,
      found: 3,
      missing: ['x/2'],
      sizeDiffers: ['x/3'],
      extra: ['x/4'],
    });
    expect(compareListing(expected, new Map(expected.map((o) => [o.key, o.size]))).missing).toEqual([]);
  });
  it('samples across the whole set', () => {
    const objs = caseObjects('c', 100, 1);
    const s = sampleObjects(objs, 10);
    expect(s).toHaveLength(10);
    expect(s[0]!.key).toBe(objs[0]!.key);
    expect(s[9]!.key).toBe(objs[90]!.key);
    expect(sampleObjects(objs.slice(0, 3), 10)).toHaveLength(3);
  });
});

describe('peer configuration', () => {
  const remote = {
    name: 'minio',
    endpoint: 'http://127.0.0.1:4567',
    region: 'us-east-1',
    accessKeyId: 'test',
    secretAccessKey: 'test',
  };
  it('renders an rclone s3 remote for an emulator', () => {
    const text = renderRcloneConfig([remote]);
    expect(text).toContain('[minio]');
    expect(text).toContain('provider = Other');
    expect(text).toContain('endpoint = http://127.0.0.1:4567');
    expect(text).toContain('force_path_style = true');
  });
  it('renders an aws config with path-style addressing', () => {
    expect(renderAwsConfig('us-east-1')).toMatch(/s3 =\n\s+addressing_style = path/);
  });
  it('writes the files 0600 and builds the command lines', () => {
    const files = writePeerConfigs(dir, [remote]);
    expect(readFileSync(files.rcloneConfig, 'utf8')).toContain('[minio]');
    const tools = { rclone: 'rclone', aws: '/usr/bin/aws', rcloneVersion: '', awsVersion: '', installed: [] };
    expect(rcloneCopyArgv(tools, files, 'minio:a', 'local:b', 64)).toEqual([
      'rclone',
      '--config',
      files.rcloneConfig,
      'copy',
      'minio:a',
      'local:b',
      '--transfers',
      '64',
      '-q',
    ]);
    expect(awsSyncArgv(tools, remote.endpoint, 's3://a', '/tmp/x')).toContain('--endpoint-url');
  });
  it('runs peers without AWS_CA_BUNDLE or ambient credentials', () => {
    const saved = { ...process.env };
    process.env.AWS_CA_BUNDLE = '/etc/ca.pem';
    process.env.AWS_SECRET_ACCESS_KEY = 'x';
    try {
      const env = peerEnv({ A: 'b' });
      expect(env.AWS_CA_BUNDLE).toBeUndefined();
      expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
      expect(env.A).toBe('b');
    } finally {
      process.env = saved;
    }
  });
});

describe('results', () => {
  const run = (seconds: number, rssMiB = 100) => ({ seconds, peakRssKiB: rssMiB * 1024, cpuS: 1 });
  it('computes rates from a run', () => {
    const r = toolResult(5000, 5000 * 16 * KiB, run(2));
    expect(r.objects_per_s).toBe(2500);
    expect(r.mib_per_s).toBe(39.1);
    expect(r.peak_rss_mib).toBe(100);
    expect(r.verified).toBe(true);
  });
  it('picks the median run', () => {
    expect(medianIndex([5, 1, 3])).toBe(2);
    expect(medianIndex([4, 2])).toBe(1);
    expect(medianIndex([7])).toBe(0);
  });
  it('sets ratios against the best rclone and checks the targets', () => {
    const a: Partial<Record<ToolName, ToolEntry>> = {
      convoy: toolResult(5000, 1, run(1, 250)),
      rclone16: toolResult(5000, 1, run(4)),
      rclone64: toolResult(5000, 1, run(2)),
      awscli: { error: 'boom' },
    };
    const b: Partial<Record<ToolName, ToolEntry>> = {
      convoy: toolResult(200, 1, run(3, 320)),
      rclone16: toolResult(200, 1, run(2)),
    };
    expect(addRatios(a)).toBe(2500);
    addRatios(b);
    expect((a.convoy as { ratio_vs_best_rclone: number }).ratio_vs_best_rclone).toBe(2);
    expect((a.rclone16 as { ratio_vs_best_rclone: number }).ratio_vs_best_rclone).toBe(0.5);
    const targets = checkTargets({ a, b });
    expect(targets.map((t) => t.met)).toEqual([true, false, false]);
    expect(targets[2]!.measured).toBe('320 MiB');
    const table = formatTable({ cases: { a, b }, case_info: {}, targets });
    expect(table).toContain('FAILED: boom');
    expect(table).toContain('MISSED');
    expect(formatMarkdown({ cases: { a }, case_info: {} })).toContain('| convoy | 1.00 | 5000 |');
  });
  it('holds `convoy plan --work` (convoy-work) to the same targets when it ran, beside convoy', () => {
    const a: Partial<Record<ToolName, ToolEntry>> = {
      convoy: toolResult(5000, 1, run(3, 250)),
      'convoy-work': toolResult(5000, 1, run(1.5, 120)),
      rclone64: toolResult(5000, 1, run(2)),
    };
    addRatios(a);
    expect(checkTargets({ a }).map((t) => [t.what, t.met, t.measured])).toEqual([
      ['case a: convoy objects/s vs best rclone', false, '0.67x'],
      ['case a: convoy-work objects/s vs best rclone', true, '1.33x'],
      ['convoy worker peak RSS (worst case)', true, '250 MiB'],
      ['convoy-work peak RSS (worst case)', true, '120 MiB'],
    ]);
    // not run: no row of its own
    expect(checkTargets({ a: { convoy: a.convoy!, rclone64: a.rclone64! } }).map((t) => t.what)).toEqual([
      'case a: convoy objects/s vs best rclone',
      'convoy worker peak RSS (worst case)',
    ]);
  });
  it('reports a convoy failure as a target not measured', () => {
    const t = checkTargets({ a: { convoy: { error: 'not available\nmore' }, rclone16: toolResult(1, 1, run(1)) } });
    expect(t[0]).toMatchObject({ met: null, measured: 'failed: not available' });
  });
});

describe('profiling helpers', () => {
  it('names the API action of a request', () => {
    expect(classifyRequest('GET', '/b?list-type=2&prefix=a', undefined)).toBe('S3.ListObjectsV2');
    expect(classifyRequest('GET', '/b/k/x.bin?x-id=GetObject', undefined)).toBe('S3.GetObject');
    expect(classifyRequest('PUT', '/b/k?partNumber=2&uploadId=u', undefined)).toBe('S3.UploadPart');
    expect(classifyRequest('POST', '/b/k?uploads', undefined)).toBe('S3.CreateMultipartUpload');
    expect(classifyRequest('HEAD', '/b/k', undefined)).toBe('S3.HeadObject');
    expect(classifyRequest('POST', '/', 'AmazonSQS.ReceiveMessage')).toBe('SQS.ReceiveMessage');
    expect(classifyRequest('POST', '/', 'DynamoDB_20120810.UpdateItem')).toBe('DynamoDB.UpdateItem');
  });
  it('attributes frames to areas', () => {
    expect(areaOf('file:///w/node_modules/@smithy/core/dist-cjs/index.js', 'f')).toBe('@smithy/core');
    expect(areaOf('file:///w/node_modules/pino/lib/x.js', 'f')).toBe('pino');
    expect(areaOf('file:///w/dist/worker/jobs/s3-sync/copier.js', 'f')).toBe('convoy worker/jobs');
    expect(areaOf('node:internal/streams/readable', 'f')).toBe('node internals');
    expect(areaOf('', '(garbage collector)')).toBe('(gc)');
    // a bundle's frames, once mapped to their sources
    expect(areaOf('file:///w/worker/jobs/uploads/migrate-upload.ts', 'f')).toBe('convoy worker/jobs');
    expect(areaOf('file:///w/shared/sigv4.ts', 'f')).toBe('convoy shared');
  });
  it("attributes a bundle's frames through its source map", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-profile-map-'));
    try {
      const bundle = path.join(dir, 'dist', 'chunk.js');
      mkdirSync(path.dirname(bundle));
      writeFileSync(bundle, 'a();\nb();\n');
      // line 0 -> sources[0] line 0; line 1 -> sources[1] line 4 ("AAAA;ACIA": next source, +4 lines)
      writeFileSync(
        `${bundle}.map`,
        JSON.stringify({
          version: 3,
          sources: ['../node_modules/@ucanto/core/src/a.js', '../worker/jobs/uploads/b.ts'],
          names: [],
          mappings: 'AAAA;ACIA',
        }),
      );
      const sourceOf = sourceMapped();
      const url = pathToFileURL(bundle).href;
      const first = sourceOf(url, 0, 0);
      expect(areaOf(first.url, 'f')).toBe('@ucanto/core');
      const second = sourceOf(url, 1, 0);
      expect(areaOf(second.url, 'f')).toBe('convoy worker/jobs');
      expect(second.line).toBe(4);
      // a file without a map stays as it is
      expect(sourceOf('node:internal/x', 3, 1)).toEqual({ url: 'node:internal/x', line: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('charges sample intervals to nodes, inside a window only', () => {
    const profile = {
      startTime: 1_000,
      endTime: 1_400,
      nodes: [
        { id: 1, callFrame: { functionName: '(idle)', url: '', lineNumber: 0 } },
        { id: 2, callFrame: { functionName: 'hot', url: 'file:///w/node_modules/pkg/i.js', lineNumber: 9 } },
      ],
      samples: [2, 2, 1, 2, 2],
      timeDeltas: [0, 100, 100, 100, 100],
    };
    // samples at 1000, 1100, 1200, 1300, 1400 µs; each stands for the 100 µs after it (the last for 0)
    const all = selfTimes(profile);
    expect(all.perNode.get(2)).toBeCloseTo(0.3);
    expect(all.perNode.get(1)).toBeCloseTo(0.1);
    const cut = selfTimes(profile, { fromUs: 1_150, toUs: 1_450 });
    expect(cut.perNode.get(2)).toBeCloseTo(0.1);
    const s = summariseProfile(profile);
    expect(s.byArea[0]).toMatchObject({ area: 'pkg' });
    expect(s.topFunctions[0]!.fn).toBe('hot i.js:10');
  });
  it('reads pid and thread from a profile file name', () => {
    expect(profileFileIds('CPU.20251122.021000.12345.0.001.cpuprofile')).toEqual({ pid: 12345, thread: 0 });
    expect(profileFileIds('report.txt')).toBeUndefined();
  });
  it('formats request counts per object', () => {
    const lines = formatRequestCounts({ 's3:minio S3.GetObject': 100, 'sqs SQS.ReceiveMessage': 5 }, 100);
    expect(lines[0]).toContain('105 (1.05 per object)');
    expect(lines[1]).toContain('s3:minio S3.GetObject');
  });
});
