import type { LogRecord } from "@std/log";
import { toJsonSafe } from "../common/_capture.ts";
export { isoTime } from "../common/_iso_time.ts";
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

/** One arg as JSON text; never throws, whatever the arg holds. */
export function argToJson(arg: unknown): string {
  try {
    return JSON.stringify(arg) ?? "null";
  } catch {
    return JSON.stringify(toJsonSafe(arg)) ?? "null";
  }
}
