import { BaseHandler, type LevelName, type LogRecord } from "@std/log";
import type { QueueHandler } from "../sender/queue_handler.ts";

/**
 * What `WriterListener.handler()` returns: a level in front of the one
 * QueueHandler that carries the main thread's records to the writer. Every
 * call of `handler()` gets its own gate, with its own level, and all share
 * that QueueHandler: two QueueHandlers on one connection would each count
 * the connection's records as their own. It owns nothing, so `log.setup()`
 * may set it up and destroy it freely (destroying only posts the batch).
 */
export class LevelGate extends BaseHandler {
  readonly #queue: QueueHandler;

  constructor(levelName: LevelName, queue: QueueHandler) {
    super(levelName);
    this.#queue = queue;
  }

  override handle(record: LogRecord): void {
    if (this.level > record.level) return;
    this.#queue.handle(record);
  }

  log(msg: string): void {
    this.#queue.log(msg);
  }

  /** Resolves once the writer has written every record logged before. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  override destroy(): void {
    this.#queue.destroy();
  }
}
