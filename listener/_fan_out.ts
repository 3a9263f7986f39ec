/**
 * The listener's handlers: setting them up and tearing them down, handing
 * each record or line to every handler whose level admits it, flushing them
 * at the end of each event-loop turn, and reporting what they throw.
 *
 * @module
 */
import {
  BaseHandler,
  FileHandler,
  getLevelName,
  type LevelName,
  type LogLevel,
  LogLevels,
  type LogRecord,
} from "@std/log";
import { isAsyncDisposable, type LogsLines, reportsErrors } from "../common/handler_hooks.ts";
import type { LineBatch, RecordBatch } from "../common/_wire.ts";
import type { WorkerLogRecord } from "../common/worker_log_record.ts";
import { HandlerError, HandlerSetupError, isWorkerlogError } from "../errors.ts";
import { forEachRecord, lineAt, type SenderIdentity } from "./_decode.ts";
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

/** Kinds of failure reported per handler; past it that handler's others are only counted. */
const MAX_KINDS_PER_HANDLER = 64;

/** Hands records and lines to the handlers; owns their setup, flushing and teardown. */
export class FanOut {
  readonly handlers: readonly BaseHandler[];
  readonly respectHandlerLevel: boolean;
  readonly #onError: (error: HandlerError) => void;
  readonly #reportedKinds = new Map<BaseHandler, Set<string>>();
  // Per guarded handler: its own destroy(), and its own "destroy" property
  // (if it had one), put back when the guard is removed.
  readonly #unguarded = new Map<
    BaseHandler,
    { destroy: () => void; own: PropertyDescriptor | undefined }
  >();
  /** The handlers that take a batch's lines in one `log()` call (see `records()`). */
  readonly #takesJoinedLines: ReadonlySet<BaseHandler>;
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
    this.#takesJoinedLines = new Set(handlers.filter(isPlainFileHandler));
  }

  /** Times a handler threw. */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  /**
   * The level below which nothing is written, which senders need not send:
   * the lowest handler's, or NOTSET when the handlers' levels are ignored.
   */
  get lowestLevel(): LevelName {
    if (!this.respectHandlerLevel) return "NOTSET";
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
  record(record: LogRecord): void {
    for (const handler of this.handlers) this.#handleOne(handler, record);
    this.flushSoon();
  }

  /**
   * Hands a batch of records to every handler, each record to those whose
   * level admits it. A plain FileHandler gets the batch's lines joined, in
   * one `log()` call: one encode and one write per batch instead of per line
   * (see `isPlainFileHandler`).
   */
  records(batch: RecordBatch, sender: SenderIdentity): void {
    const records: WorkerLogRecord[] = [];
    forEachRecord(batch, sender, (record) => records.push(record));
    for (const handler of this.handlers) {
      if (this.#takesJoinedLines.has(handler)) this.#logJoined(handler, records);
      else for (const record of records) this.#handleOne(handler, record);
    }
    this.flushSoon();
  }

  /** Hands one finished line at `level` to every handler whose level admits it. */
  line(level: number, line: string): void {
    for (const handler of this.handlers) {
      if (this.respectHandlerLevel && level < handler.level) continue;
      this.#writeLine(handler, level, line);
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
        if (levels[i] >= level) this.#writeLine(handler, levels[i], lineAt(batch, i));
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

  /**
   * Counts a handler's failure and reports it: a fault a sink reports itself
   * (a workerlog error, which the sink reports once per episode) each time,
   * any other failure once per handler and class of error.
   */
  report(handler: BaseHandler, error: unknown): void {
    this.#handlerErrors++;
    if (!isWorkerlogError(error) && !this.#firstOfKind(handler, error)) return;
    const report = new HandlerError(describeHandler(handler), error);
    try {
      this.#onError(report);
    } catch (thrown) {
      console.error("workerlog: onError threw", thrown, "while reporting", report);
    }
  }

  // Bounded per handler: one that fails in ever new ways cannot grow the
  // set without end, nor silence the others' reports.
  #firstOfKind(handler: BaseHandler, error: unknown): boolean {
    let kinds = this.#reportedKinds.get(handler);
    if (kinds === undefined) this.#reportedKinds.set(handler, kinds = new Set());
    const kind = kindOf(error);
    if (kinds.has(kind) || kinds.size >= MAX_KINDS_PER_HANDLER) return false;
    kinds.add(kind);
    return true;
  }

  #handleOne(handler: BaseHandler, record: LogRecord) {
    const respect = this.respectHandlerLevel;
    if (respect && record.level < handler.level) return;
    try {
      if (respect) handler.handle(record);
      else this.#logLine(handler, record.level, handler.format(record));
    } catch (error) {
      this.report(handler, error);
    }
  }

  // What FileHandler's own handle() would do for each record, in one log():
  // the same level check, format() and the same bytes, and a CRITICAL record
  // still flushes (after the batch's other lines are buffered, so the file
  // ends up byte for byte the same).
  #logJoined(handler: BaseHandler, records: readonly LogRecord[]) {
    const respect = this.respectHandlerLevel;
    const lines: string[] = [];
    let critical = false;
    for (const record of records) {
      if (respect && record.level < handler.level) continue;
      try {
        lines.push(handler.format(record));
      } catch (error) {
        this.report(handler, error);
        continue;
      }
      if (record.level > LogLevels.ERROR) critical = true;
    }
    if (lines.length === 0) return;
    try {
      handler.log(lines.join("\n"));
      if (respect && critical) (handler as FileHandler).flush();
    } catch (error) {
      this.report(handler, error);
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
    if (typeof writeLines !== "function" && this.#takesJoinedLines.has(handler)) {
      // FileHandler.log() adds the last "\n" itself.
      this.#writeLine(handler, batch.minLevel, batch.text.slice(0, -1));
      return;
    }
    if (typeof writeLines !== "function") {
      const { levels } = batch;
      for (let i = 0; i < levels.length; i++) this.#writeLine(handler, levels[i], lineAt(batch, i));
      return;
    }
    try {
      writeLines.call(handler, batch.text);
    } catch (error) {
      this.report(handler, error);
    }
  }

  #writeLine(handler: BaseHandler, level: number, line: string) {
    try {
      this.#logLine(handler, level, line);
    } catch (error) {
      this.report(handler, error);
    }
  }

  // A finished line, with the level of the record it came from for a
  // handler that keeps it (logLine(), see LogsLines).
  #logLine(handler: BaseHandler, level: number, line: string) {
    const logLine = (handler as Partial<LogsLines>).logLine;
    if (typeof logLine === "function") logLine.call(handler, level, line);
    else handler.log(line);
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

// The class of what a handler threw, without reading its stack (formatting
// one costs microseconds, and this runs for every failing record); never
// throws, whatever was thrown.
function kindOf(error: unknown): string {
  try {
    return error instanceof Error ? String(error.name) : typeof error;
  } catch {
    return "unreadable";
  }
}

function tryTo(action: () => void) {
  try {
    action();
  } catch {
    // Rolling back after a failed setup: the setup error is the one to report.
  }
}

/**
 * A FileHandler (or subclass) whose handle(), log() and format() are the
 * package's own, so that joining lines changes nothing but the number of
 * encodes and writes. RotatingFileHandler overrides log() to rotate at exact
 * byte counts, so it takes records one by one, as does any handler with its
 * own handle(), log() or format().
 */
function isPlainFileHandler(handler: BaseHandler): boolean {
  return handler instanceof FileHandler &&
    handler.handle === FileHandler.prototype.handle &&
    handler.log === FileHandler.prototype.log &&
    handler.format === BaseHandler.prototype.format;
}
