// What the benchmark cases log, and the measurements every case takes the
// same way: the same records per shape, so the files of a shape match.
import type { LogRecord } from "@std/log";

/** The two kinds of records the cases log. */
export type Shape = "text" | "user";

/** The message of record `i` of the "text" shape: an access-log line without args. */
export function message(i: number): string {
  return `GET /api/items/${i} 200 ${i % 97}ms`;
}

/** The message of record `i` of the "user" shape (issue 9), logged by the logger "app". */
export function userMessage(i: number): string {
  return "request " + i + " handled in 4ms";
}

/** The logger the "user" shape logs to. */
export const USER_LOGGER = "app";

/** The formatter of the "user" shape: what a user writes for the @std/log FileHandler. */
export function userFormatter(r: LogRecord): string {
  return `${r.datetime.toISOString()} ${r.levelName} ${r.loggerName} ${r.msg}`;
}

/** The message function of a shape. */
export function messageOf(shape: Shape): (i: number) => string {
  return shape === "user" ? userMessage : message;
}

/** The transport-only process cases send this many times the harness's records. */
export const TRANSPORT_SCALE = 5;

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

/**
 * CPU time the calling thread has used, in ns (Linux; NaN elsewhere). A
 * synchronous op runs on the calling thread, so "thread-self" is the thread
 * that calls this, e.g. the main thread.
 */
export function threadCpuNs(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system) the whole process has used, in ns, including
 * threads that have ended (Linux; NaN elsewhere). Clock ticks of 10 ms: fine
 * for runs of a second or more.
 */
export function processCpuNs(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return ticks * 1e7; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Now, in epoch ms with sub-ms precision, comparable across threads and processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** What a worker of the benchmark returns to the main thread. */
export interface WorkerFigures {
  /** When it made its first log call (epochMs()). */
  firstLogAt: number;
  /** The median cost of one log call in the worker, in µs. */
  perCallUs: number;
  /** The worker isolate's V8 heap when it finished, in MB. */
  heapTotalMb: number;
  heapUsedMb: number;
}

/** Figures of the calling isolate's V8 heap, in MB. */
export function heapFigures(): { heapTotalMb: number; heapUsedMb: number } {
  const { heapTotal, heapUsed } = Deno.memoryUsage();
  return { heapTotalMb: heapTotal / 2 ** 20, heapUsedMb: heapUsed / 2 ** 20 };
}
