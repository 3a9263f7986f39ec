import type { LogLevel, LogRecord } from "@std/log";
import { captureArgs } from "../common/_capture.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";

const NO_ARGS: readonly unknown[] = [];

// The fields a record is loaded with; readonly to the formatters that read them.
interface Loadable {
  msg: string;
  level: number;
  levelName: string;
  loggerName: string;
  seq: number;
}

/**
 * The one record a preformatting QueueHandler hands its formatter, loaded
 * anew for every record: it names the sender and carries the seq, as the
 * listener's WorkerLogRecords do, so a formatter writes the same line on
 * either side, without building a second record per log call. Preformat
 * requires a formatter that is a pure function of the record, so none keeps
 * this object past its return.
 */
export class FormattingRecord extends WorkerLogRecord {
  #time = 0;
  #args: readonly unknown[] = NO_ARGS;

  constructor(worker: string, workerIndex: number | undefined) {
    super({
      msg: "",
      args: [],
      level: 0,
      loggerName: "",
      datetime: 0,
      worker,
      workerIndex,
      seq: 0,
    });
  }

  /** Makes this the record `record`, number `seq` of its sender. */
  load(seq: number, record: LogRecord): this {
    const fields = this as unknown as Loadable;
    fields.msg = record.msg;
    fields.level = record.level as LogLevel;
    fields.levelName = record.levelName;
    fields.loggerName = record.loggerName;
    fields.seq = seq;
    this.#time = record.datetime.getTime();
    const args = record.args;
    this.#args = args.length === 0 ? NO_ARGS : captureArgs(args);
    return this;
  }

  override get time(): number {
    return this.#time;
  }

  override get args(): unknown[] {
    return [...this.#args];
  }
}
