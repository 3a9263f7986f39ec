// What every benchmark case logs: the same records, so their files match.

/** The message of record `i`: an access-log line without args. */
export function message(i: number): string {
  return `GET /api/items/${i} 200 ${i % 97}ms`;
}

/** Calls per timed chunk when measuring the cost of one log call. */
export const CHUNK = 100;

/**
 * Runs `log(i)` for i in [from, to) and returns the median cost of one call
 * in µs, measured over chunks of CHUNK calls. A chunk that includes a wait
 * for the listener (at most one per batch) does not move the median.
 */
export function timedLoop(from: number, to: number, log: (i: number) => void): number {
  const perCall: number[] = [];
  for (let start = from; start < to; start += CHUNK) {
    const end = Math.min(start + CHUNK, to);
    const began = performance.now();
    for (let i = start; i < end; i++) log(i);
    perCall.push(((performance.now() - began) * 1000) / (end - start));
  }
  return median(perCall);
}

/** The median of some numbers (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The process's peak resident memory so far, in MB (Linux; NaN elsewhere). */
export function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}
