/** Small helpers for the monitor tests: parse Prometheus text and pick one sample. */
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

export function parseMetrics(text: string): PromFamily[] {
  return parsePrometheusTextFormat(text);
}

/**
 * The value of the sample of `name` whose labels include `labels` (undefined when absent); for a
 * histogram, its observation count (the `+Inf` bucket: this parser drops a labelled histogram's
 * labels, count and sum, so match histograms without labels).
 */
export function sample(families: PromFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const s = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (s?.value !== undefined) return Number(s.value);
  if (s?.buckets?.['+Inf'] !== undefined) return Number(s.buckets['+Inf']);
  return s?.count === undefined ? undefined : Number(s.count);
}
