import type { LogRecord } from "@std/log";
import { toJsonSafe } from "../common/_capture.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import { isoTime, oneLine, timeOf, workerOf } from "./_fields.ts";

/**
 * Formats a record as one JSON object on one line (JSON Lines):
 *
 *     {"time":"2026-11-24T08:49:55.123Z","level":"INFO","worker":"worker-2","logger":"app","msg":"served","seq":41,"args":[{"ms":12}]}
 *
 * `seq` is present for records that came through a listener; `args` only
 * when there are any. JSON escapes every control character, and U+2028 and
 * U+2029 are escaped too, so no logger name, message or arg can break a line
 * or the JSON; args that JSON cannot hold (BigInt, cycles) are converted to
 * readable strings rather than throw.
 *
 * @example
 * ```ts
 * import { jsonLinesFormatter, WorkerLogRecord } from "@workerlog/workerlog";
 *
 * const line = jsonLinesFormatter(new WorkerLogRecord({
 *   msg: "served",
 *   args: [{ ms: 12 }],
 *   level: 20,
 *   loggerName: "app",
 *   datetime: 0,
 *   worker: "worker-2",
 *   seq: 41,
 * }));
 * console.log(JSON.parse(line).worker); // worker-2
 * ```
 */
export function jsonLinesFormatter(record: LogRecord): string {
  const fields: Record<string, unknown> = {
    time: isoTime(timeOf(record)),
    level: record.levelName,
    worker: workerOf(record),
    logger: record.loggerName,
    msg: record.msg,
  };
  if (record instanceof WorkerLogRecord) fields.seq = record.seq;
  const args = record.args;
  if (args.length > 0) fields.args = args;
  let json;
  try {
    json = JSON.stringify(fields);
  } catch {
    fields.args = toJsonSafe(args);
    json = JSON.stringify(fields);
  }
  return oneLine(json);
}
