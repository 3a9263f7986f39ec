import type { LogRecord } from "@std/log";
import { toJsonSafe } from "../common/_capture.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";

/** When a record was logged, as epoch ms, without a new Date where it can. */
export function timeOf(record: LogRecord): number {
  return record instanceof WorkerLogRecord ? record.time : record.datetime.getTime();
}

/** The thread a record comes from: its worker's name, or "main". */
export function workerOf(record: LogRecord): string {
  return record instanceof WorkerLogRecord ? record.worker : "main";
}

const LINE_BREAKS = /[\n\r\u2028\u2029]/;
const LINE_BREAKS_GLOBAL = /[\n\r\u2028\u2029]/g;
const ESCAPES: Record<string, string> = {
  "\n": "\\n",
  "\r": "\\r",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * Writes every line break (LF, CR, and the U+2028/U+2029 separators that
 * editors and Python's splitlines() also break on) as its escape, so the
 * text stays on one line. The escapes are valid JSON, and JSON.stringify
 * leaves U+2028/U+2029 raw, so JSON Lines output goes through this too.
 */
export function oneLine(text: string): string {
  return LINE_BREAKS.test(text)
    ? text.replace(LINE_BREAKS_GLOBAL, (lineBreak) => ESCAPES[lineBreak])
    : text;
}

const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, "0"));
let cachedSecond = NaN;
let secondPrefix = "";
let cachedMs = NaN;
let cachedIso = "";

/**
 * `new Date(ms).toISOString()`, fast: Date#toISOString costs about 400 ns in
 * V8, more than all the rest of a formatter. Records come in bursts within
 * one millisecond, so the last result is kept, and the text up to the
 * seconds is kept per second.
 */
export function isoTime(time: number): string {
  if (time === cachedMs) return cachedIso;
  if (!Number.isFinite(time)) return "Invalid Date";
  const ms = Math.trunc(time); // as a Date would: it drops the fraction
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, -4); // up to the "."
  }
  cachedMs = time;
  cachedIso = `${secondPrefix}${MILLIS[ms - second * 1000]}Z`;
  return cachedIso;
}

/** One arg as JSON text; never throws, whatever the arg holds. */
export function argToJson(arg: unknown): string {
  try {
    return JSON.stringify(arg) ?? "null";
  } catch {
    return JSON.stringify(toJsonSafe(arg)) ?? "null";
  }
}
