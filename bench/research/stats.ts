// Percentiles of timed searches, as the research benchmarks report them.

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

export interface Stats { n: number; p50: number; p95: number; p99: number; max: number; cpu_p50: number | null; cpu_p95: number | null; journeys_total: number; journeys_max: number }

export const stats = (ss: Array<{ ms: number; cpu?: number; journeys: number }>): Stats => ({
  n: ss.length,
  p50: +pct(ss.map((s) => s.ms), 50).toFixed(2), p95: +pct(ss.map((s) => s.ms), 95).toFixed(2),
  p99: +pct(ss.map((s) => s.ms), 99).toFixed(2), max: +Math.max(...ss.map((s) => s.ms)).toFixed(2),
  cpu_p50: ss[0]?.cpu === undefined ? null : +pct(ss.map((s) => s.cpu!), 50).toFixed(2),
  cpu_p95: ss[0]?.cpu === undefined ? null : +pct(ss.map((s) => s.cpu!), 95).toFixed(2),
  journeys_total: ss.reduce((a, s) => a + s.journeys, 0), journeys_max: Math.max(...ss.map((s) => s.journeys)),
});
