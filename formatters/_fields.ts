import type { LogRecord } from "@std/log";
import { toJsonSafe } from "../_capture.ts";
import { WorkerLogRecord } from "../listener/worker_log_record.ts";

/** The thread a record comes from: its worker's name, or "main". */
export function workerOf(record: LogRecord): string {
  return record instanceof WorkerLogRecord ? record.worker : "main";
}

/** One arg as JSON text; never throws, whatever the arg holds. */
export function argToJson(arg: unknown): string {
  try {
    return JSON.stringify(arg) ?? "null";
  } catch {
    return JSON.stringify(toJsonSafe(arg)) ?? "null";
  }
}
