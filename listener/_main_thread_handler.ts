import { BaseHandler, type LevelName, type LogRecord } from "@std/log";
import { captureRecord } from "../common/worker_log_record.ts";
import type { Connection } from "./_connection.ts";

/**
 * The handler `QueueListener.handler()` returns: main-thread loggers hand it
 * records, and it passes them straight to their connection, named "main",
 * which counts them like any other sender's. It owns nothing, so
 * `log.setup()` may set it up and destroy it freely.
 */
export class MainThreadHandler extends BaseHandler {
  readonly #connection: Connection;

  constructor(levelName: LevelName, connection: Connection) {
    super(levelName);
    this.#connection = connection;
  }

  override handle(record: LogRecord): void {
    if (this.level > record.level) return;
    const connection = this.#connection;
    connection.receiveRecord(
      captureRecord(record, connection.name, undefined, connection.nextSeq()),
    );
  }

  log(msg: string): void {
    this.#connection.receiveLine(this.level, msg);
  }
}
