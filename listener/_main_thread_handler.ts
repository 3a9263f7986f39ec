import { BaseHandler, type LevelName, type LogRecord } from "@std/log";

/** Where a main-thread handler delivers: records, and finished lines at a level. */
export interface MainThreadDelivery {
  record(record: LogRecord): void;
  line(level: number, line: string): void;
}

/**
 * The handler `QueueListener.handler()` returns: main-thread loggers hand it
 * records and it passes them straight to the listener. It owns nothing, so
 * `log.setup()` may set it up and destroy it freely.
 */
export class MainThreadHandler extends BaseHandler {
  readonly #deliver: MainThreadDelivery;

  constructor(levelName: LevelName, deliver: MainThreadDelivery) {
    super(levelName);
    this.#deliver = deliver;
  }

  override handle(record: LogRecord): void {
    if (this.level > record.level) return;
    this.#deliver.record(record);
  }

  log(msg: string): void {
    this.#deliver.line(this.level, msg);
  }
}
