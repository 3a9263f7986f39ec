import {
  type BaseHandler,
  getLevelName,
  type LevelName,
  type LogLevel,
  LogLevels,
  type LogRecord,
} from "@std/log";
import { captureArgs } from "../common/_capture.ts";
import { CLOSED, createFlow, HANDLED, type OverflowPolicy } from "../common/_flow.ts";
import {
  CLOSING,
  CONNECT_KEY,
  FLUSH,
  FLUSHED,
  forEachRecord,
  lineAt,
  type LineBatch,
  LINES,
  type QueueConnection,
  type RecordBatch,
  RECORDS,
  SAME_THREAD,
  type SenderMessage,
} from "../common/_wire.ts";
import {
  HandlerError,
  HandlerSetupError,
  InvalidOptionError,
  ListenerStateError,
} from "../errors.ts";
import { describeHandler } from "./_describe_handler.ts";
import { MainThreadHandler } from "./_main_thread_handler.ts";
import { Sender, type SenderStats } from "./_sender.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";

export type { OverflowPolicy, SenderStats };

/** Records in flight per sender unless `maxInFlight` says otherwise. */
export const DEFAULT_MAX_IN_FLIGHT = 16_384;

/**
 * Options of {@linkcode QueueListener}.
 *
 * @example Drop rather than wait when the disk falls behind; report sink failures
 * ```ts
 * import { QueueListener, type QueueListenerOptions } from "@workerlog/workerlog";
 *
 * const options: QueueListenerOptions = {
 *   maxInFlight: 4_096,
 *   overflow: "drop",
 *   onError: (error) => console.error("logging failed:", error.message),
 * };
 * const listener = new QueueListener([], options);
 * ```
 */
export interface QueueListenerOptions {
  /**
   * Hand each handler only the records its level admits (true, the
   * default), or every record (false: the handler's level is ignored and
   * `log(format(record))` is called directly).
   */
  respectHandlerLevel?: boolean;
  /**
   * At most this many records buffered between one sender and this listener
   * (in the sender's current batch and in flight). Default: 16,384.
   */
  maxInFlight?: number;
  /**
   * What a sender does when `maxInFlight` is reached: "block" (the default)
   * makes the worker wait until the listener catches up, so nothing is lost;
   * "drop" drops new records and counts them, and the listener writes a WARN
   * record saying how many were dropped from which worker.
   */
  overflow?: OverflowPolicy;
  /**
   * Called when a handler throws, once per handler and kind of failure; the
   * other handlers keep receiving records. Default: `console.error`.
   */
  onError?: (error: HandlerError) => void;
}

/**
 * Options of `connect()` and `attach()`.
 *
 * @example
 * ```ts
 * import { QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const connection = listener.connect({ name: "importer", index: 0 });
 * console.log(connection.name); // importer
 * ```
 */
export interface ConnectOptions {
  /** The sender's name in records; default "worker-N", counting from 0. */
  name?: string;
  /** Its index among several workers, carried in records as `workerIndex`. */
  index?: number;
}

/**
 * The listener's counters: totals, and one entry per sender.
 *
 * @example Check that nothing was lost
 * ```ts
 * import { QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const { received, dispatched, dropped, rejected } = listener.stats();
 * console.log(received === dispatched && dropped === 0 && rejected === 0); // true
 * ```
 */
export interface ListenerStats {
  /** Records that arrived from every sender, main thread included. */
  received: number;
  /**
   * Records handed to the handlers. A handler that threw on one is counted
   * in `handlerErrors`, not here.
   */
  dispatched: number;
  /** Records senders dropped because the in-flight cap was reached. */
  dropped: number;
  /** Records refused because the listener had stopped or detached their sender. */
  rejected: number;
  /** Times a handler threw. */
  handlerErrors: number;
  /** Per sender; "main" is the main thread's `handler()`. */
  senders: SenderStats[];
}

type State = "new" | "started" | "stopping" | "stopped";

/**
 * The receiving half: takes batches from any number of senders (workers with
 * a {@linkcode QueueHandler}, and main-thread loggers through `handler()`)
 * and hands rebuilt {@linkcode WorkerLogRecord}s to ordinary @std/log
 * handlers, which it owns: `start()` sets them up, `stop()` drains every
 * sender and then flushes and destroys them.
 *
 * Handlers are flushed at the end of every event-loop turn in which records
 * arrived, so records reach the file promptly. A handler that throws is
 * reported through `onError` and does not stop the others.
 *
 * @example One file for the main thread and a hand-made worker
 * ```ts ignore
 * import { QueueListener } from "@workerlog/workerlog";
 * import * as log from "@std/log";
 *
 * await using listener = new QueueListener([
 *   new log.FileHandler("INFO", { filename: "app.log" }),
 * ]).start();
 * log.setup({
 *   handlers: { queue: listener.handler() },
 *   loggers: { default: { level: "INFO", handlers: ["queue"] } },
 * });
 *
 * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * listener.attach(worker, { name: "worker-0" }); // the worker calls setupWorkerLogging()
 * log.info("main thread, same file");
 * ```
 */
export class QueueListener implements AsyncDisposable {
  /** The handlers every record goes to. */
  readonly handlers: readonly BaseHandler[];
  /** Whether each handler only gets the records its level admits. */
  readonly respectHandlerLevel: boolean;
  /** The cap on records buffered per sender. */
  readonly maxInFlight: number;
  /** What a sender does at the cap. */
  readonly overflow: OverflowPolicy;
  readonly #onError: (error: HandlerError) => void;
  #state: State = "new";
  #stopped: Promise<void> | undefined;
  #senders = new Map<string, Sender>();
  #retired: Sender[] = [];
  #main = { received: 0, dispatched: 0, rejected: 0, seq: 0 };
  #reported = new Set<string>();
  #handlerErrors = 0;
  #flushQueued = false;
  #unnamed = 0;

  /** Builds a listener for `handlers`; nothing is set up until `start()`. */
  constructor(handlers: BaseHandler[], options: QueueListenerOptions = {}) {
    this.handlers = [...checkHandlers(handlers)];
    this.respectHandlerLevel = checkBoolean(
      "respectHandlerLevel",
      options.respectHandlerLevel ?? true,
    );
    this.maxInFlight = checkCount("maxInFlight", options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.overflow = checkOverflow(options.overflow ?? "block");
    this.#onError = options.onError ?? ((error) => console.error(error));
  }

  /**
   * Sets up every handler. If one fails, those set up before it are
   * destroyed again and a HandlerSetupError says which and why. Returns the
   * listener, so `await using listener = new QueueListener(h).start()` works.
   */
  start(): this {
    if (this.#state === "started") return this;
    if (this.#state !== "new") {
      throw new ListenerStateError(
        "This QueueListener has been stopped and cannot start again; create a new one.",
      );
    }
    const ready: BaseHandler[] = [];
    for (const handler of this.handlers) {
      try {
        handler.setup();
        guardDestroy(handler, (error) => this.#report(handler, error));
        ready.push(handler);
      } catch (error) {
        for (const done of ready) tryTo(() => done.destroy());
        throw new HandlerSetupError(describeHandler(handler), error);
      }
    }
    this.#state = "started";
    return this;
  }

  /** The level name of the lowest-level handler: below it nothing is written. */
  get lowestLevel(): LevelName {
    const lowest = Math.min(...this.handlers.map((handler) => handler.level));
    return Number.isFinite(lowest) ? getLevelName(lowest as LogLevel) : "CRITICAL";
  }

  /**
   * Opens a channel for one sender and returns what its QueueHandler needs.
   * Transfer `connection.port` to the thread that will log, e.g.
   * `worker.postMessage(connection, [connection.port])`; `attach()` does
   * exactly that for a Worker.
   */
  connect(options: ConnectOptions = {}): QueueConnection {
    this.#assertStarted("connect");
    const name = options.name ?? this.#nextName();
    if (this.#senders.has(name) || name === "main") {
      throw new InvalidOptionError("name", name, "a name no other sender of this listener uses");
    }
    const { port1, port2 } = new MessageChannel();
    const flow = createFlow();
    const sender = new Sender(name, options.index, port1, flow, this.maxInFlight);
    port1.onmessage = (event: MessageEvent<SenderMessage>) => this.#receive(sender, event.data);
    this.#senders.set(name, sender);
    const connection: QueueConnection = {
      port: port2,
      name,
      ...(options.index === undefined ? {} : { index: options.index }),
      level: this.lowestLevel,
      shared: flow.buffer as SharedArrayBuffer,
      maxInFlight: this.maxInFlight,
      overflow: this.overflow,
    };
    return Object.assign(connection, { [SAME_THREAD]: true });
  }

  /**
   * Connects a Worker, or whatever is at the other end of a MessagePort:
   * posts it a connection, which `setupWorkerLogging()` there picks up (from
   * its global scope for a Worker, from `source` for a port). Returns the
   * sender's name.
   */
  attach(target: Worker | MessagePort, options: ConnectOptions = {}): string {
    const connection = this.connect(options);
    target.postMessage({ [CONNECT_KEY]: connection }, [connection.port as MessagePort]);
    return connection.name;
  }

  /**
   * Writes everything the sender had posted, then closes its channel; what
   * it posts later is counted as rejected. Resolves when done.
   */
  detach(name: string): Promise<void> {
    const sender = this.#senders.get(name);
    if (sender === undefined) return Promise.resolve();
    return sender.detached ??= this.#close(sender).then(() => {
      this.#senders.delete(name);
      this.#retired.push(sender);
    });
  }

  /**
   * A handler for main-thread loggers: records logged through it go to this
   * listener's handlers like any worker's, named "main". It owns nothing, so
   * give it to `log.setup()` instead of the real handlers.
   */
  handler(levelName: LevelName = "NOTSET"): BaseHandler {
    return new MainThreadHandler(levelName, {
      record: (record) => this.#receiveFromMain(() => this.#dispatch(this.#mainRecord(record))),
      line: (level, line) => this.#receiveFromMain(() => this.#dispatchLine(level, line)),
    });
  }

  /** The counters: per sender and in total. */
  stats(): ListenerStats {
    // Detached senders count on: a worker still logging after a stop
    // keeps adding to what it rejected.
    const senders = [...this.#retired, ...this.#senders.values()].map((sender) => sender.stats());
    const main = this.#main;
    if (main.received + main.rejected > 0) {
      senders.push({
        name: "main",
        received: main.received,
        dispatched: main.dispatched,
        dropped: 0,
        rejected: main.rejected,
        peakInFlight: 0,
      });
    }
    const sum = (key: "received" | "dispatched" | "dropped" | "rejected") =>
      senders.reduce((total, sender) => total + sender[key], 0);
    return {
      received: sum("received"),
      dispatched: sum("dispatched"),
      dropped: sum("dropped"),
      rejected: sum("rejected"),
      handlerErrors: this.#handlerErrors,
      senders,
    };
  }

  /**
   * Drains every sender (everything already posted is written; what comes
   * later is rejected), then flushes and destroys the handlers. Idempotent:
   * every call returns the same promise.
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  /** Calls `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop() {
    if (this.#state === "new") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopping";
    await Promise.all([...this.#senders.keys()].map((name) => this.detach(name)));
    this.#flushHandlers();
    for (const handler of this.handlers) handler.destroy();
    this.#state = "stopped";
  }

  async #close(sender: Sender) {
    sender.close();
    Atomics.store(sender.flow, CLOSED, 1);
    Atomics.notify(sender.flow, HANDLED);
    sender.port.postMessage({ kind: CLOSING });
    const drained = await sender.drain();
    if (!drained) {
      console.error(
        `workerlog: gave up waiting for messages from ${sender.name}; ` +
          `they are counted as rejected.`,
      );
    }
    this.#noticeDrops(sender);
    sender.port.close();
  }

  #receive(sender: Sender, message: SenderMessage) {
    const accepted = sender.accept();
    switch (message.kind) {
      case RECORDS:
      case LINES:
        this.#receiveBatch(sender, message, accepted);
        break;
      case FLUSH:
        this.#flushHandlers();
        sender.port.postMessage({ kind: FLUSHED, id: message.id });
        break;
    }
    sender.settleDrains();
  }

  #receiveBatch(sender: Sender, batch: RecordBatch | LineBatch, accepted: boolean) {
    const count = batch.levels.length;
    sender.arrived(count);
    if (accepted && this.#state !== "stopped") {
      this.#noticeDrops(sender);
      if (batch.kind === RECORDS) forEachRecord(batch, sender, this.#dispatch);
      else this.#dispatchLines(batch);
      sender.dispatched += count;
      this.#queueFlush();
    } else {
      sender.rejected += count;
    }
    sender.handled(count);
  }

  // Main-thread records are dispatched as they are logged, and counted as
  // the sender "main".
  #receiveFromMain(deliver: () => void) {
    const main = this.#main;
    if (this.#state !== "started") {
      main.rejected++;
      return;
    }
    main.received++;
    deliver();
    main.dispatched++;
    this.#queueFlush();
  }

  #mainRecord(record: LogRecord): WorkerLogRecord {
    return new WorkerLogRecord({
      msg: record.msg,
      args: captureArgs(record.args),
      level: record.level as LogLevel,
      loggerName: record.loggerName,
      datetime: record.datetime,
      worker: "main",
      seq: this.#main.seq++,
    });
  }

  #dispatchLine(level: number, line: string) {
    for (const handler of this.handlers) {
      if (this.respectHandlerLevel && level < handler.level) continue;
      this.#writeLine(handler, line);
    }
  }

  #dispatch = (record: WorkerLogRecord) => {
    const respect = this.respectHandlerLevel;
    for (const handler of this.handlers) {
      if (respect && record.level < handler.level) continue;
      try {
        if (respect) handler.handle(record);
        else handler.log(handler.format(record));
      } catch (error) {
        this.#report(handler, error);
      }
    }
  };

  #dispatchLines(batch: LineBatch) {
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
      this.#report(handler, error);
    }
  }

  #writeLine(handler: BaseHandler, line: string) {
    try {
      handler.log(line);
    } catch (error) {
      this.#report(handler, error);
    }
  }

  #noticeDrops(sender: Sender) {
    const dropped = sender.dropped();
    const fresh = (dropped - sender.droppedReported) | 0;
    if (fresh <= 0) return;
    sender.droppedReported = dropped;
    this.#dispatch(
      new WorkerLogRecord({
        msg: `${sender.name} dropped ${fresh} records: ${this.maxInFlight} were already ` +
          `in flight (overflow "drop"). Raise maxInFlight, or use overflow "block" to keep every record.`,
        args: [],
        level: LogLevels.WARN,
        loggerName: "workerlog",
        datetime: Date.now(),
        worker: sender.name,
        ...(sender.index === undefined ? {} : { workerIndex: sender.index }),
        seq: -1,
      }),
    );
  }

  #queueFlush() {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setTimeout(this.#flushQueuedHandlers, 0);
  }

  #flushQueuedHandlers = () => {
    this.#flushQueued = false;
    if (this.#state === "started" || this.#state === "stopping") this.#flushHandlers();
  };

  #flushHandlers() {
    for (const handler of this.handlers) {
      const flush = (handler as { flush?: unknown }).flush;
      if (typeof flush !== "function") continue;
      try {
        flush.call(handler);
      } catch (error) {
        this.#report(handler, error);
      }
    }
  }

  #report(handler: BaseHandler, error: unknown) {
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

  #assertStarted(action: string) {
    if (this.#state === "new") {
      throw new ListenerStateError(
        `Cannot ${action} before start(): call listener.start() first.`,
      );
    }
    if (this.#state !== "started") {
      throw new ListenerStateError(
        `Cannot ${action}: the listener has been stopped. Create a new QueueListener.`,
      );
    }
  }

  #nextName(): string {
    let name;
    do name = `worker-${this.#unnamed++}`; while (this.#senders.has(name));
    return name;
  }
}

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

// A handler whose destroy() throws (FileHandler's final flush on a full
// disk) never gets to remove its "unload" hook, and that hook would then
// throw again as the process exits and turn a clean exit into a crash. The
// listener owns its handlers, so it makes their destroy() report instead.
function guardDestroy(handler: BaseHandler, report: (error: unknown) => void) {
  const destroy = handler.destroy;
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
}

function tryTo(action: () => void) {
  try {
    action();
  } catch {
    // Rolling back after a failed setup: the setup error is the one to report.
  }
}

function checkHandlers(handlers: unknown): BaseHandler[] {
  const valid = Array.isArray(handlers) &&
    handlers.every((handler) => typeof handler?.handle === "function");
  if (!valid) {
    throw new InvalidOptionError(
      "handlers",
      handlers,
      'an array of @std/log handlers, e.g. [new FileHandler("INFO", { filename: "app.log" })]',
    );
  }
  return handlers as BaseHandler[];
}

function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new InvalidOptionError(option, value, "true or false");
  return value;
}

function checkCount(option: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new InvalidOptionError(option, value, "a whole number of at least 1");
  }
  return value as number;
}

function checkOverflow(value: unknown): OverflowPolicy {
  if (value !== "block" && value !== "drop") {
    throw new InvalidOptionError("overflow", value, `"block" or "drop"`);
  }
  return value;
}
