// Offline stand-in for jsr:@std/log@0.224.14 `formatters.ts` (see STD_LOG_API.md).
import type { LogRecord } from "./logger.ts";

/** One JSON object per record: level, datetime (epoch ms), message, args. */
export function jsonFormatter(logRecord: LogRecord): string {
  return JSON.stringify({
    level: logRecord.levelName,
    datetime: logRecord.datetime.getTime(),
    message: logRecord.msg,
    args: flattenArgs(logRecord.args),
  });
}

function flattenArgs(args: unknown[]): unknown {
  return args.length > 1 ? args : args[0];
}

/** The formatters that come with the package. */
export const formatters = { jsonFormatter };
