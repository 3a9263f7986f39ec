/**
 * What a QueueListener looks for on a handler beyond @std/log's BaseHandler.
 * Handlers that forward over a network (syslog, OTLP) fail away from
 * `handle()`, and hold records that must be delivered before the program
 * ends; these hooks let the listener report those faults and wait for them.
 *
 * @module
 */

/**
 * A handler that reports faults found outside `handle()`, such as a receiver
 * going away. The listener calls `reportErrorsTo()` from `start()` with its
 * own reporter (`onError`), so those faults arrive where all others do.
 *
 * @example A handler whose background work reports through the listener
 * ```ts
 * import { BaseHandler } from "@std/log";
 * import type { ReportsErrors } from "@workerlog/workerlog";
 *
 * class Forwarder extends BaseHandler implements ReportsErrors {
 *   #report: (error: Error) => void = (error) => console.error(error);
 *   reportErrorsTo(report: (error: Error) => void): void {
 *     this.#report = report;
 *   }
 *   log(_msg: string): void {}
 * }
 * ```
 */
export interface ReportsErrors {
  /** From now on, report faults to `report` instead of the handler's default. */
  reportErrorsTo(report: (error: Error) => void): void;
}

/**
 * A handler that takes a finished line with the level of the record it was
 * formatted from. Where the listener has lines instead of records
 * (`preformat`, and `respectHandlerLevel: false`, which hands each handler
 * `format(record)`), it calls `logLine()` on a handler that has it and
 * `log()` on the others, so that a handler that forwards keeps each line's
 * severity. It must not check the level again: the listener has.
 *
 * @example A handler that keeps each line's level
 * ```ts
 * import { BaseHandler, getLevelName, type LogLevel } from "@std/log";
 * import type { LogsLines } from "@workerlog/workerlog";
 *
 * class Tagged extends BaseHandler implements LogsLines {
 *   lines: string[] = [];
 *   log(msg: string): void {
 *     this.lines.push(msg);
 *   }
 *   logLine(level: number, line: string): void {
 *     this.lines.push(`${getLevelName(level as LogLevel)}: ${line}`);
 *   }
 * }
 * ```
 */
export interface LogsLines {
  /** Writes `line`, a finished line (no "\n"), logged at `level` (e.g. 40 for ERROR). */
  logLine(level: number, line: string): void;
}

/** Whether `handler` has `reportErrorsTo()`. */
export function reportsErrors(handler: object): handler is ReportsErrors {
  return typeof (handler as Partial<ReportsErrors>).reportErrorsTo === "function";
}

/**
 * Whether `handler` has `[Symbol.asyncDispose]()`: the listener's `stop()`
 * awaits it (deliver what is buffered, within the handler's own deadline)
 * before it calls `destroy()`.
 */
export function isAsyncDisposable(handler: object): handler is AsyncDisposable {
  return typeof (handler as Partial<AsyncDisposable>)[Symbol.asyncDispose] === "function";
}
