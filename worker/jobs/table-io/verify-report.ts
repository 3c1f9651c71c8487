/**
 * Verification reports: one JSON object per line (a segment, a range, a partition, a sampled
 * record), counted by category, plus the few summary lines `convoy verify` prints.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { VerifySummary } from '../../job-kind.js';

export class VerifyReport {
  readonly counts: Record<string, number> = {};
  private readonly out: WriteStream;
  readonly lines: string[] = [];

  constructor(readonly reportPath: string) {
    mkdirSync(path.dirname(reportPath), { recursive: true });
    this.out = createWriteStream(reportPath);
  }

  /** Record one compared thing under `category` ("ok" means it matched). */
  add(category: string, row: Record<string, unknown>): void {
    this.counts[category] = (this.counts[category] ?? 0) + 1;
    this.out.write(JSON.stringify({ category, ...row }) + '\n');
  }

  info(line: string): void {
    this.lines.push(line);
  }

  /** Clean when every category is one of `okCategories`. */
  async finish(okCategories: string[] = ['ok']): Promise<VerifySummary> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const clean = Object.entries(this.counts).every(([k, n]) => n === 0 || okCategories.includes(k));
    const summary = Object.entries(this.counts)
      .sort()
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
    return {
      counts: { ...this.counts },
      clean,
      reportPath: this.reportPath,
      lines: [...this.lines, `${clean ? 'CLEAN' : 'DIFFERENCES'}: ${summary || '(nothing compared)'}`],
    };
  }
}
