/**
 * The listener's handlers: setting them up and tearing them down, handing
 * each record or line to every handler whose level admits it, flushing them
 * at the end of each event-loop turn, and reporting what they throw.
 *
 * @module
 */
import {
  type BaseHandler,
  getLevelName,
  type LevelName,
  type LogLevel,
  type LogRecord,
} from "@std/log";
import { isAsyncDisposable, reportsErrors } from "../common/handler_hooks.ts";
import type { LineBatch } from "../common/_wire.ts";
import { HandlerError, HandlerSetupError } from "../errors.ts";
import { lineAt } from "./_decode.ts";
import { describeHandler } from "./_describe_handler.ts";

/**
 * A handler that can take a whole batch of finished lines at once. The
 * listener gives preformatted batches to `writeLines()` when a handler has
 * it, and line by line to `log()` otherwise.
 *
 * @example A handler that collects batches
 * ```ts
 * import { BaseHandler } from "@std/log";
 * import type { LinesWriter } from "@workerlog/workerlog";
 *
 * class Collect extends BaseHandler implements LinesWriter {
 *   text = "";
 *   log(msg: string) {
 *     this.text += msg + "\n";
 *   }
 *   writeLines(text: string) {
 *     this.text += text;
 *   }
 * }
 * ```
 */
export interface LinesWriter {
  /** Writes `text`: whole lines, each ending in "\n". */
  writeLines(text: string): void;
}

/** Hands records and lines to the handlers; owns their setup, flushing and teardown. */
export class FanOut {
  readonly handlers: readonly BaseHandler[];
  readonly respectHandlerLevel: boolean;
  readonly #onError: (error: HandlerError) => void;
  readonly #reported = new Set<string>();
  // Per guarded handler: its own destroy(), and its own "destroy" property
  // (if it had one), put back when the guard is removed.
  readonly #unguarded = new Map<
    BaseHandler,
    { destroy: () => void; own: PropertyDescriptor | undefined }
  >();
  #handlerErrors = 0;
  #flushQueued = false;
  #live = false;

  constructor(
    handlers: readonly BaseHandler[],
    respectHandlerLevel: boolean,
    onError: (error: HandlerError) => void,
  ) {
    this.handlers = handlers;
    this.respectHandlerLevel = respectHandlerLevel;
    this.#onError = onError;
  }

  /** Times a handler threw. */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  /** The level name of the lowest-level handler: below it nothing is written. */
  get lowestLevel(): LevelName {
    const lowest = Math.min(...this.handlers.map((handler) => handler.level));
    return Number.isFinite(lowest) ? getLevelName(lowest as LogLevel) : "CRITICAL";
  }

  /**
   * Sets up every handler. If one fails, those set up before it are
   * destroyed again and a HandlerSetupError says which and why.
   */
  setup(): void {
    const ready: BaseHandler[] = [];
    for (const handler of this.handlers) {
      try {
        handler.setup();
      } catch (error) {
        for (const done of ready) tryTo(() => done.destroy());
        throw new HandlerSetupError(describeHandler(handler), error);
      }
      ready.push(handler);
      this.#guardDestroy(handler);
      if (reportsErrors(handler)) {
        handler.reportErrorsTo((error) => this.report(handler, error));
      }
    }
    this.#live = true;
  }

  /** Hands a record to every handler whose level admits it. */
  record = (record: LogRecord): void => {
    const respect = this.respectHandlerLevel;
    for (const handler of this.handlers) {
      if (respect && record.level < handler.level) continue;
      try {
        if (respect) handler.handle(record);
        else handler.log(handler.format(record));
      } catch (error) {
        this.report(handler, error);
      }
    }
    this.flushSoon();
  };

  /** Hands one finished line at `level` to every handler whose level admits it. */
  line(level: number, line: string): void {
    for (const handler of this.handlers) {
      if (this.respectHandlerLevel && level < handler.level) continue;
      this.#writeLine(handler, line);
    }
    this.flushSoon();
  }

  /** Hands a batch of finished lines over: whole where a handler takes batches and every line. */
  lines(batch: LineBatch): void {
    const { levels } = batch;
    for (const handler of this.handlers) {
      const level = handler.level;
      if (!this.respectHandlerLevel || level <= batch.minLevel) {
        this.#writeText(handler, batch);
        continue;
      }
      for (let i = 0; i < levels.length; i++) {
        if (levels[i] >= level) this.#writeLine(handler, lineAt(batch, i));
      }
    }
    this.flushSoon();
  }

  /** Flushes every handler at the end of this event-loop turn. */
  flushSoon(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setTimeout(this.#flushQueuedHandlers, 0);
  }

  /** Flushes every handler that has `flush()` now. */
  flush(): void {
    for (const handler of this.handlers) {
      const flush = (handler as { flush?: unknown }).flush;
      if (typeof flush !== "function") continue;
      try {
        flush.call(handler);
      } catch (error) {
        this.report(handler, error);
      }
    }
  }

  /**
   * Flushes, waits for handlers that deliver asynchronously
   * (`Symbol.asyncDispose`), then destroys every handler. A handler whose
   * destroy() throws is reported, and only it keeps the guard that stops its
   * "unload" hook from throwing again as the process exits.
   */
  async destroy(): Promise<void> {
    this.flush();
    this.#live = false;
    await Promise.all(this.handlers.map((handler) => this.#disposeAsync(handler)));
    for (const handler of this.handlers) {
      const destroy = this.#unguarded.get(handler)?.destroy ?? handler.destroy;
      try {
        destroy.call(handler);
        this.#unguard(handler);
      } catch (error) {
        this.report(handler, error);
      }
    }
  }

  /** Counts a handler's failure and reports it once per handler and kind of failure. */
  report(handler: BaseHandler, error: unknown): void {
    this.#handlerErrors++;
    const kind = `${this.handlers.indexOf(handler)}:${
      error instanceof Error ? `${error.name}:${error.message}` : String(error)
    }`;
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    const report = new HandlerError(describeHandler(handler), error);
    try {
      this.#onError(report);
    } catch (thrown) {
      console.error("workerlog: onError threw", thrown, "while reporting", report);
    }
  }

  #flushQueuedHandlers = () => {
    this.#flushQueued = false;
    if (this.#live) this.flush();
  };

  async #disposeAsync(handler: BaseHandler) {
    if (!isAsyncDisposable(handler)) return;
    try {
      await handler[Symbol.asyncDispose]();
    } catch (error) {
      this.report(handler, error);
    }
  }

  #writeText(handler: BaseHandler, batch: LineBatch) {
    const writeLines = (handler as Partial<LinesWriter>).writeLines;
    if (typeof writeLines !== "function") {
      for (let i = 0; i < batch.levels.length; i++) this.#writeLine(handler, lineAt(batch, i));
      return;
    }
    try {
      writeLines.call(handler, batch.text);
    } catch (error) {
      this.report(handler, error);
    }
  }

  #writeLine(handler: BaseHandler, line: string) {
    try {
      handler.log(line);
    } catch (error) {
      this.report(handler, error);
    }
  }

  // A handler whose destroy() throws (FileHandler's last flush on a full
  // disk) never gets to remove its "unload" hook, and that hook would then
  // throw again as the process exits and turn a clean exit into a crash. The
  // listener owns its handlers, so while it does, their destroy() reports
  // instead of throwing; the guard is removed again once destroy() succeeds.
  #guardDestroy(handler: BaseHandler) {
    const destroy = handler.destroy;
    const own = Object.getOwnPropertyDescriptor(handler, "destroy");
    const report = (error: unknown) => this.report(handler, error);
    Object.defineProperty(handler, "destroy", {
      configurable: true,
      writable: true,
      value: function guardedDestroy(this: BaseHandler) {
        try {
          destroy.call(this);
        } catch (error) {
          report(error);
        }
      },
    });
    this.#unguarded.set(handler, { destroy, own });
  }

  #unguard(handler: BaseHandler) {
    const guard = this.#unguarded.get(handler);
    if (guard === undefined) return;
    this.#unguarded.delete(handler);
    if (guard.own) Object.defineProperty(handler, "destroy", guard.own);
    else delete (handler as { destroy?: unknown }).destroy;
  }
}

function tryTo(action: () => void) {
  try {
    action();
  } catch {
    // Rolling back after a failed setup: the setup error is the one to report.
  }
}
