import { LogRecord } from "@std/log/logger";
import type { LogLevel } from "@std/log";
import { captureArgs } from "./_capture.ts";
import { IsoCachedDate } from "./_iso_time.ts";

/**
 * What a {@linkcode WorkerLogRecord} is built from.
 *
 * @example
 * ```ts
 * import { WorkerLogRecord, type WorkerLogRecordOptions } from "@workerlog/workerlog";
 *
 * const options: WorkerLogRecordOptions = {
 *   msg: "disk almost full",
 *   args: [{ free: "2%" }],
 *   level: 30,
 *   loggerName: "ops",
 *   datetime: new Date("2026-11-24T08:00:00Z"),
 *   worker: "worker-1",
 *   workerIndex: 1,
 *   seq: 17,
 * };
 * console.log(new WorkerLogRecord(options).levelName); // WARN
 * ```
 */
export interface WorkerLogRecordOptions {
  /** The message, already a string. */
  msg: string;
  /** The arguments, as JSON-safe data. */
  args: unknown[];
  /** The numeric level. */
  level: LogLevel;
  /** The logger that took the record, e.g. "default". */
  loggerName: string;
  /** When the record was logged: a Date or epoch milliseconds. */
  datetime: Date | number;
  /** The name of the thread that logged it, e.g. "worker-2" or "main". */
  worker: string;
  /** The index of that worker among the spawned ones, when it has one. */
  workerIndex?: number;
  /** The record's sequence number within its sender, from 0. */
  seq: number;
}

/**
 * A {@linkcode LogRecord} rebuilt by the listener. Its `datetime` is the time
 * the worker logged it, not the time it arrived, and it says which thread
 * logged it, so formatters can print that.
 *
 * @example Print the worker in a formatter
 * ```ts
 * import { WorkerLogRecord } from "@workerlog/workerlog";
 * import type { LogRecord } from "@std/log";
 *
 * function formatter(record: LogRecord): string {
 *   const worker = record instanceof WorkerLogRecord ? record.worker : "main";
 *   return `${record.datetime.toISOString()} [${worker}] ${record.msg}`;
 * }
 *
 * const record = new WorkerLogRecord({
 *   msg: "hello",
 *   args: [],
 *   level: 20,
 *   loggerName: "default",
 *   datetime: 0,
 *   worker: "worker-0",
 *   seq: 0,
 * });
 * console.log(formatter(record)); // 1970-01-01T00:00:00.000Z [worker-0] hello
 * ```
 */
export class WorkerLogRecord extends LogRecord {
  /** The name of the thread that logged the record, e.g. "worker-2" or "main". */
  readonly worker: string;
  /** The index of that worker among the spawned ones, when it has one. */
  readonly workerIndex: number | undefined;
  /** The record's sequence number within its sender: strictly increasing. */
  readonly seq: number;
  readonly #time: number;

  /** Builds a record that keeps the time it was logged. */
  constructor(options: WorkerLogRecordOptions) {
    super(options);
    // As a Date would keep it: whole milliseconds (a Date drops the fraction).
    this.#time = Math.trunc(+options.datetime);
    this.worker = options.worker;
    this.workerIndex = options.workerIndex;
    this.seq = options.seq;
  }

  /**
   * When the record was logged, in the thread that logged it (a new Date
   * each call, whose `toISOString()` is fast: it keeps the text of the last
   * millisecond).
   */
  override get datetime(): Date {
    return new IsoCachedDate(this.time);
  }

  /** When the record was logged, as epoch milliseconds: `datetime` without a new Date. */
  get time(): number {
    return this.#time;
  }
}

/**
 * A WorkerLogRecord that keeps what `record` was at the log call: its args
 * captured as JSON-safe data, its time, and who logged it.
 */
export function captureRecord(
  record: LogRecord,
  worker: string,
  workerIndex: number | undefined,
  seq: number,
): WorkerLogRecord {
  return new WorkerLogRecord({
    msg: record.msg,
    args: captureArgs(record.args),
    level: record.level as LogLevel,
    loggerName: record.loggerName,
    datetime: record.datetime,
    worker,
    workerIndex,
    seq,
  });
}
