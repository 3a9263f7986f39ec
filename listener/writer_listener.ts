import type { BaseHandler, LevelName } from "@std/log";
import type { OverflowPolicy } from "../common/_flow.ts";
import { CONNECT_KEY, type QueueConnection } from "../common/_wire.ts";
import { checkCloneable, toModuleUrl } from "../common/_options.ts";
import {
  type ErrorDescription,
  HandlerError,
  HandlerModuleError,
  HandlerSetupError,
  InvalidOptionError,
  ListenerStateError,
} from "../errors.ts";
import { QueueHandler } from "../sender/queue_handler.ts";
import { LevelGate } from "./_level_gate.ts";
import { drainOnSignals } from "./_signals.ts";
import type {
  WriterListenerSettings,
  WriterMessage,
  WriterRequest,
  WriterStart,
} from "./_writer_control.ts";
import {
  type ConnectOptions,
  type ListenerStats,
  QueueListener,
  type QueueListenerOptions,
} from "./queue_listener.ts";
// Imported for its place in the module graph only: see the module's doc.
import "./_writer_main.ts";

const WRITER_MAIN = new URL("./_writer_main.ts", import.meta.url);

/**
 * The sender name of the main thread's records (`handler()`) in a
 * WriterListener.
 *
 * @example Tell the main thread's records from the workers'
 * ```ts
 * import { MAIN_THREAD_SENDER, WorkerLogRecord } from "@workerlog/workerlog";
 * import type { LogRecord } from "@std/log";
 *
 * const fromMain = (record: LogRecord) =>
 *   record instanceof WorkerLogRecord && record.worker === MAIN_THREAD_SENDER;
 * ```
 */
export const MAIN_THREAD_SENDER = "main-thread";

// On SIGINT or SIGTERM, how long busy workers get to post the batches they
// are building before the writer stops (as QueueListener's).
const SIGNAL_GRACE_MS = 500;

/**
 * Options of {@linkcode WriterListener}: those of a
 * {@linkcode QueueListener}, which the writer runs, and the `args` of the
 * handlers module. `onError` runs on this thread: the writer reports each
 * handler failure back here.
 *
 * @example
 * ```ts
 * import type { WriterListenerOptions } from "@workerlog/workerlog";
 *
 * const options: WriterListenerOptions = {
 *   args: { filename: "logs/app.log" },
 *   overflow: "drop",
 *   onError: (error) => console.error("logging failed:", error.message),
 * };
 * ```
 */
export interface WriterListenerOptions extends QueueListenerOptions {
  /** Passed to the handlers module's function, structured-cloned. */
  args?: unknown;
}

type State = "new" | "starting" | "started" | "stopping" | "stopped";

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * A listener whose writing runs in a dedicated writer worker, as pino's
 * transports do with `target`: the handlers are built there, by the
 * `handlers` (or default) export of `module`, and an ordinary
 * {@linkcode QueueListener} hands them the records. Each sender's batches go
 * straight from its worker to the writer; this thread only brokers the
 * connections, so logging costs it no CPU per record. Choose it for a server
 * whose main thread serves requests.
 *
 * Connections come from another thread, so `connect()`, `attach()` and
 * `stats()` are async. `start()` builds the handlers and rejects, before any
 * sender connects, with a {@linkcode HandlerModuleError} (the module) or a
 * {@linkcode HandlerSetupError} (a handler's setup). Handler failures reach
 * `onError` here as {@linkcode HandlerError}s. While it runs, SIGINT and
 * SIGTERM drain the writer and exit with 130 or 143 (`handleSignals`). The
 * writer keeps the process alive until `stop()`: use `await using`.
 *
 * @example main.ts: four workers and the main thread, written by a writer
 * ```ts ignore
 * import { spawn, WriterListener } from "@workerlog/workerlog";
 * import * as log from "@std/log";
 *
 * await using writer = await new WriterListener(new URL("./log_handlers.ts", import.meta.url), {
 *   args: { filename: "app.log" },
 * }).start();
 * log.setup({
 *   handlers: { writer: writer.handler() },
 *   loggers: { default: { level: "INFO", handlers: ["writer"] } },
 * });
 * log.info("from the main thread");
 * await spawn(new URL("./worker.ts", import.meta.url), { count: 4, listener: writer });
 * ```
 *
 * @example log_handlers.ts: runs in the writer
 * ```ts ignore
 * import { FileHandler } from "@std/log";
 * import { textFormatter } from "@workerlog/workerlog";
 *
 * export default ({ filename }: { filename: string }) => [
 *   new FileHandler("INFO", { filename, formatter: textFormatter }),
 * ];
 * ```
 */
export class WriterListener implements AsyncDisposable {
  /** The URL of the handlers module. */
  readonly module: string;
  /** Whether each handler only gets the records its level admits. */
  readonly respectHandlerLevel: boolean;
  /** The cap on records buffered per sender. */
  readonly maxInFlight: number;
  /** The cap on bytes buffered per sender. */
  readonly maxInFlightBytes: number;
  /** What a sender does at a cap. */
  readonly overflow: OverflowPolicy;
  /** Whether SIGINT and SIGTERM drain the writer and exit. */
  readonly handleSignals: boolean;
  readonly #args: unknown;
  readonly #onError: (error: HandlerError) => void;
  #state: State = "new";
  #started: Promise<this> | undefined;
  #stopped: Promise<void> | undefined;
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #requests = 0;
  #names = new Set<string>();
  #detaching = new Map<string, Promise<void>>();
  #unnamed = 0;
  #main: QueueHandler | undefined;
  #stopDrainingOnSignals = () => {};

  /**
   * Checks the options; nothing starts until `start()`. `module` is a URL
   * (a relative path is taken from the current directory).
   */
  constructor(module: string | URL, options?: WriterListenerOptions) {
    options ??= {};
    this.module = toModuleUrl(
      "module",
      module,
      `new URL("./log_handlers.ts", import.meta.url)`,
    ).href;
    // The same checks, in one place: QueueListener's own constructor.
    const checked = new QueueListener([], options);
    this.respectHandlerLevel = checked.respectHandlerLevel;
    this.maxInFlight = checked.maxInFlight;
    this.maxInFlightBytes = checked.maxInFlightBytes;
    this.overflow = checked.overflow;
    this.handleSignals = checked.handleSignals;
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new InvalidOptionError("onError", options.onError, "a function (error) => {}");
    }
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#args = checkCloneable("args", options.args, "the writer");
  }

  /**
   * Starts the writer worker, which imports the handlers module, builds the
   * handlers and sets them up. Resolves with the listener once it takes
   * connections; rejects with a HandlerModuleError or a HandlerSetupError
   * (and the writer is gone again). Every call returns the same promise.
   */
  start(): Promise<this> {
    return this.#started ??= this.#start();
  }

  /** Whether `name` is free for a new sender. */
  isNameFree(name: string): boolean {
    return !this.#names.has(name) && name !== "main" && name !== MAIN_THREAD_SENDER;
  }

  /**
   * Asks the writer for a channel for one sender and resolves with what its
   * QueueHandler needs; transfer `connection.port` to the thread that will
   * log. Its records then go from that thread to the writer directly. The
   * name is taken from the moment of the call. Throws at once, as
   * `QueueListener.connect()` does, before `start()` has resolved, after
   * `stop()`, or for a name already taken.
   */
  connect(options?: ConnectOptions): Promise<QueueConnection> {
    options ??= {};
    this.#assertStarted("connect");
    const name = options.name ?? this.#nextName();
    if (!this.isNameFree(name)) {
      throw new InvalidOptionError("name", name, "a name no other sender of this listener uses");
    }
    this.#names.add(name);
    const request = this.#request({
      kind: "connect",
      id: 0,
      name,
      ...(options.index === undefined ? {} : { index: options.index }),
    }) as Promise<QueueConnection>;
    return request.catch((error) => {
      this.#names.delete(name);
      throw error;
    });
  }

  /**
   * Connects a Worker (or the other end of a MessagePort) whose code calls
   * `setupWorkerLogging()`, as `QueueListener.attach()` does. Resolves with
   * the sender's name.
   */
  async attach(target: Worker | MessagePort, options?: ConnectOptions): Promise<string> {
    const connection = await this.connect(options);
    target.postMessage({ [CONNECT_KEY]: connection }, [connection.port as MessagePort]);
    return connection.name;
  }

  /**
   * Writes everything the sender had posted, then closes its channel; what
   * it posts later is counted as rejected. Resolves when done.
   */
  detach(name: string): Promise<void> {
    if (!this.#names.has(name) || this.#state !== "started") return Promise.resolve();
    let detaching = this.#detaching.get(name);
    if (detaching === undefined) {
      detaching = (this.#request({ kind: "detach", id: 0, name }) as Promise<void>).finally(() => {
        this.#names.delete(name);
        this.#detaching.delete(name);
      });
      this.#detaching.set(name, detaching);
    }
    return detaching;
  }

  /**
   * A handler for main-thread loggers: their records are batched here and
   * cross to the writer, into the same handlers as every worker's, from the
   * sender "main-thread". It owns nothing, so give it to `log.setup()`. Its
   * `flush()` resolves once the writer has written what was logged before.
   * The main thread is then a sender like a worker, capped by `maxInFlight`:
   * under `overflow: "block"` a main-thread log call waits while the writer
   * is that far behind; with `overflow: "drop"` it never waits.
   */
  handler(levelName?: LevelName): BaseHandler {
    this.#assertStarted("make a handler");
    return new LevelGate(levelName ?? "NOTSET", this.#main!);
  }

  /** The writer's counters: per sender and in total. */
  stats(): Promise<ListenerStats> {
    try {
      this.#assertStarted("read stats");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request({ kind: "stats", id: 0 }) as Promise<ListenerStats>;
  }

  /**
   * Drains every sender (the main thread's handler included), flushes and
   * destroys the handlers in the writer, then ends the writer. Idempotent:
   * every call returns the same promise.
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  /** Calls `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #start(): Promise<this> {
    if (this.#state !== "new") {
      throw new ListenerStateError(
        "This WriterListener has been stopped and cannot start again; create a new one.",
      );
    }
    this.#state = "starting";
    const started = Promise.withResolvers<QueueConnection>();
    const worker = new Worker(WRITER_MAIN, { type: "module", name: "workerlog-writer" });
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<WriterMessage>) => this.#receive(event.data, started);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#writerFailed({ name: "Error", message: event.message }, started.reject);
    };
    const start: WriterStart = {
      kind: "start",
      module: this.module,
      args: this.#args,
      settings: this.#settings(),
      mainSender: MAIN_THREAD_SENDER,
    };
    worker.postMessage(start);
    let main: QueueConnection;
    try {
      main = await started.promise;
    } catch (error) {
      worker.terminate();
      this.#state = "stopped";
      throw error;
    }
    this.#main = new QueueHandler("NOTSET", { connection: main });
    if (this.#state !== "starting") return this; // stop() was called meanwhile
    this.#state = "started";
    if (this.handleSignals) this.#stopDrainingOnSignals = drainOnSignals(this.#drainForExit);
    return this;
  }

  #settings(): WriterListenerSettings {
    return {
      respectHandlerLevel: this.respectHandlerLevel,
      maxInFlight: this.maxInFlight,
      maxInFlightBytes: this.maxInFlightBytes,
      overflow: this.overflow,
    };
  }

  #receive(
    message: WriterMessage,
    started: PromiseWithResolvers<QueueConnection>,
  ) {
    switch (message.kind) {
      case "started":
        started.resolve(message.main);
        break;
      case "start-failed":
        started.reject(
          message.stage === "module"
            ? new HandlerModuleError(this.module, message.error)
            : rebuilt(new HandlerSetupError("", message.error), message.error),
        );
        break;
      case "handler-error":
        this.#report(
          rebuilt(new HandlerError(message.handler, toError(message.cause)), message.error),
        );
        break;
      case "reply":
        this.#settle(message.id)?.resolve(message.value);
        break;
      case "refused":
        this.#settle(message.id)?.reject(
          new ListenerStateError(`The writer refused: ${message.error.message}`),
        );
        break;
    }
  }

  // The writer worker itself failed (it could not load, or died): whatever
  // waits for it is told, and onError hears it once it had started.
  #writerFailed(error: ErrorDescription, rejectStart: (error: unknown) => void) {
    if (this.#state === "starting") {
      rejectStart(new HandlerModuleError(this.module, error));
      return;
    }
    this.#report(new HandlerError("the writer worker", toError(error)));
    for (const pending of this.#pending.values()) {
      pending.reject(new ListenerStateError(`The writer worker failed: ${error.message}`));
    }
    this.#pending.clear();
  }

  #report(error: HandlerError) {
    try {
      this.#onError(error);
    } catch (thrown) {
      console.error("workerlog: onError threw", thrown, "while reporting", error);
    }
  }

  #request(request: WriterRequest): Promise<unknown> {
    const id = ++this.#requests;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { resolve, reject });
    this.#worker!.postMessage({ ...request, id });
    return promise;
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    return pending;
  }

  async #stop(graceMs?: number): Promise<void> {
    this.#stopDrainingOnSignals();
    if (this.#state === "new") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "starting") {
      this.#state = "stopping";
      await this.#started!.catch(() => {});
      if (this.#worker === undefined || this.#main === undefined) return;
    }
    if (this.#state === "stopped") return;
    this.#state = "stopping";
    // Posted (and counted as sent) before the writer's listener takes its
    // snapshot, so the stop below waits for it.
    this.#main?.destroy();
    try {
      await this.#request(
        graceMs === undefined ? { kind: "stop", id: 0 } : { kind: "drain", id: 0, graceMs },
      );
    } finally {
      this.#worker!.terminate();
      for (const pending of this.#pending.values()) {
        pending.reject(new ListenerStateError("The WriterListener has stopped."));
      }
      this.#pending.clear();
      this.#state = "stopped";
    }
  }

  // The program is ending on a signal: the writer collects what the senders
  // are building, writes everything and stops; then the process exits.
  #drainForExit = (): Promise<void> => {
    return this.#stopped ??= this.#stop(SIGNAL_GRACE_MS);
  };

  #assertStarted(action: string) {
    if (this.#state === "new" || this.#state === "starting") {
      throw new ListenerStateError(
        `Cannot ${action} before the writer has started: await listener.start() first.`,
      );
    }
    if (this.#state !== "started") {
      throw new ListenerStateError(
        `Cannot ${action}: the WriterListener has been stopped. Create a new one.`,
      );
    }
  }

  #nextName(): string {
    let name;
    do name = `worker-${this.#unnamed++}`; while (!this.isNameFree(name));
    return name;
  }
}

// An error made on this thread that says what the writer's said: its
// message and stack, and what caused it.
function rebuilt<E extends Error>(error: E, description: ErrorDescription): E {
  error.message = description.message;
  if (description.stack !== undefined) error.stack = description.stack;
  return error;
}

function toError(description: ErrorDescription): Error {
  const error = new Error(description.message);
  error.name = description.name;
  if (description.stack !== undefined) error.stack = description.stack;
  return error;
}
