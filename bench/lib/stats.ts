/** Small statistics helpers for the benchmark: percentiles of samples and medians over runs. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** p50/p90/p99/max of samples, rounded to `digits`. */
export function summary(samples: readonly number[], digits = 2): { n: number; p50: number; p90: number; p99: number; max: number } {
  if (samples.length === 0) return { n: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
  return { n: sorted.length, p50: round(at(50), digits), p90: round(at(90), digits), p99: round(at(99), digits), max: round(sorted[sorted.length - 1]!, digits) };
}

/** Median, min and max of per-run figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** The median (mean of the middle two for even counts) with min and max. */
export function spread(values: readonly number[], digits = 2): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...values] };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median: round(median, digits), min: round(v[0]!, digits), max: round(v[v.length - 1]!, digits), runs: values.map((x) => round(x, digits)) };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
