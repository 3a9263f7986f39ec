import type { LogRecord } from "@std/log";
import { argToJson, isoTime, oneLine, timeOf, workerOf } from "./_fields.ts";

/**
 * Formats a record as one line of text:
 *
 *     2026-11-24T08:49:55.123Z INFO [worker-2] app: request served {"ms":12}
 *
 * time (ISO 8601, UTC, the time of the log call), level, the thread that
 * logged it ("main" for main-thread records), logger, message, then each arg
 * as JSON. Line breaks inside the worker name, logger name or message are
 * written as `\n`, `\r`, `\u2028`, `\u2029`, so a record is always exactly
 * one line and a message cannot forge another record. Backslashes are left
 * as they are: the text form is for people; parse `jsonLinesFormatter`
 * output instead.
 *
 * @example
 * ```ts
 * import { textFormatter, WorkerLogRecord } from "@workerlog/workerlog";
 *
 * const line = textFormatter(new WorkerLogRecord({
 *   msg: "two\nlines",
 *   args: [{ ms: 12 }],
 *   level: 20,
 *   loggerName: "app",
 *   datetime: 0,
 *   worker: "worker-2",
 *   seq: 0,
 * }));
 * console.log(line); // 1970-01-01T00:00:00.000Z INFO [worker-2] app: two\nlines {"ms":12}
 * ```
 */
export function textFormatter(record: LogRecord): string {
  const args = record.args;
  let line = `${isoTime(timeOf(record))} ${record.levelName} [${workerName(workerOf(record))}] ${
    loggerName(record.loggerName)
  }: ${oneLine(record.msg)}`;
  for (const arg of args) line += ` ${oneLine(argToJson(arg))}`;
  return line;
}

// Worker and logger names hardly ever change from one record to the next;
// each keeps its last escaped form.
const workerName = lastOneLine();
const loggerName = lastOneLine();

function lastOneLine(): (text: string) => string {
  let last = "";
  let escaped = "";
  return (text) => {
    if (text !== last) {
      last = text;
      escaped = oneLine(text);
    }
    return escaped;
  };
}
