import type { BaseHandler, LevelName } from "@std/log";
import type { OverflowPolicy } from "../common/_flow.ts";
import { within } from "../common/_within.ts";
import { checkBoolean, checkChoice, checkWholeNumber } from "../common/_options.ts";
import { CONNECT_KEY, type QueueConnection } from "../common/_wire.ts";
import { type HandlerError, InvalidOptionError, ListenerStateError } from "../errors.ts";
import { Connection, type ConnectionContext, type SenderStats } from "./_connection.ts";
import { FanOut } from "./_fan_out.ts";
import { MainThreadHandler } from "./_main_thread_handler.ts";
import { openPortLink } from "./_port_link.ts";
import { drainOnSignals } from "./_signals.ts";
import {
  type ListenInfo,
  type ListenOptions,
  type PeerStats,
  SocketServer,
} from "./_socket_server.ts";
import type { SocketLink } from "./_socket_link.ts";

export type { ListenInfo, ListenOptions, OverflowPolicy, PeerStats, SenderStats };

/** Records in flight per sender unless `maxInFlight` says otherwise. */
export const DEFAULT_MAX_IN_FLIGHT = 16_384;
/** Bytes in flight per sender unless `maxInFlightBytes` says otherwise. */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** stats().senders keeps at most this many detached senders; older ones count in the totals. */
const MAX_RETIRED_SENDERS = 1_024;
type Counted = "received" | "dispatched" | "dropped" | "rejected";
/** At most this many "not listed" notices per listener. */
const MAX_UNLISTED_NOTICES = 1_024;

// On SIGINT or SIGTERM, how long busy workers get to post the batches they
// are building before the listener stops.
const SIGNAL_GRACE_MS = 500;

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
   * default), or every record (false: the handler's level is ignored,
   * senders send every record their loggers' levels admit, and each handler
   * gets `log(format(record))`, or `logLine(level, format(record))` when it
   * has it, see `LogsLines`).
   */
  respectHandlerLevel?: boolean;
  /**
   * At most this many records buffered between one sender and this listener
   * (in the sender's current batch and in flight). Default: 16,384.
   */
  maxInFlight?: number;
  /**
   * At most about this many bytes of messages, lines and args buffered
   * between one sender and this listener (counted as string lengths). A
   * single record larger than this travels alone. Default: 4 MiB.
   */
  maxInFlightBytes?: number;
  /**
   * What a sender does when `maxInFlight` or `maxInFlightBytes` is reached:
   * "block" (the default) makes the worker wait until the listener catches
   * up, so nothing is lost; "drop" drops new records and counts them, and
   * the listener writes a WARN record saying how many were dropped from
   * which worker.
   */
  overflow?: OverflowPolicy;
  /**
   * Called when a handler fails, once per handler and kind of failure; the
   * other handlers keep receiving records. Default: `console.error`.
   */
  onError?: (error: HandlerError) => void;
  /**
   * While the listener runs, SIGINT and SIGTERM make it collect what the
   * workers have logged, write everything, destroy the handlers and exit
   * with 130 or 143, as the signal would have (true, the default). Set false
   * when the program handles these signals itself; it must then call
   * `stop()`.
   */
  handleSignals?: boolean;
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
   * Records handed to the handlers, whether or not a handler threw on them
   * (each throw is counted in `handlerErrors`).
   */
  dispatched: number;
  /** Records senders dropped because an in-flight cap was reached. */
  dropped: number;
  /** Records refused because the listener had stopped or detached their sender. */
  rejected: number;
  /** Times a handler threw. */
  handlerErrors: number;
  /**
   * Per sender; "main" is the main thread's `handler()`. Senders that were
   * detached are listed too, the last 1,024 of them; older ones count only
   * in the totals.
   */
  senders: SenderStats[];
  /**
   * Processes that tried to connect through `listen()` and were refused and
   * closed (garbage, a frame over the limit, a wrong token or version, too
   * slow or silent, a name in use); 0 when not listening. `peers` says why.
   */
  refusedPeers: number;
  /** What `listen()`'s socket counts, once it listens. */
  peers?: PeerStats;
}

type State = "new" | "started" | "stopping" | "stopped";

/** How long stop() waits for the senders' sockets to close, at most. */
const SENDERS_CLOSED_MS = 2_000;

/**
 * For spawn(): reserves the names of the processes it is about to start,
 * each with its index, so that no other sender takes them meanwhile and
 * their records carry `workerIndex`; a process's hello then takes its name.
 * False (nothing reserved) when one is not free; a ListenerStateError when
 * the listener is not running. `detach(name)` releases a name no process took.
 * Defined in the class (a static block) to reach its fields.
 */
export let reserveProcessNames: (listener: QueueListener, names: readonly string[]) => boolean;

/**
 * For the writer worker, as for a listener's own signal drain: asks every
 * sender to post the batch it is building (and what it holds for a
 * preformat formatter), and resolves once all have, or after `graceMs`.
 */
export let collectBatches: (listener: QueueListener, graceMs: number) => Promise<void>;

/**
 * For spawn(): resolves once the listener has read the socket of the
 * process sending as `name` to its end (at once if it has none open).
 */
export let processDisconnected: (listener: QueueListener, name: string) => Promise<void>;

/**
 * The receiving half: takes batches from any number of senders (workers with
 * a {@linkcode QueueHandler}, and main-thread loggers through `handler()`)
 * and hands rebuilt {@linkcode WorkerLogRecord}s to ordinary handlers of
 * the @std/log package, which it owns: `start()` sets them up, `stop()` drains
 * every sender and then flushes and destroys them.
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
  /** The cap on bytes buffered per sender. */
  readonly maxInFlightBytes: number;
  /** What a sender does at a cap. */
  readonly overflow: OverflowPolicy;
  /** Whether SIGINT and SIGTERM drain the listener and exit. */
  readonly handleSignals: boolean;
  readonly #fanOut: FanOut;
  readonly #context: ConnectionContext;
  #state: State = "new";
  #stopped: Promise<void> | undefined;
  #connections = new Map<string, Connection>();
  #retired: Connection[] = [];
  // What the detached senders no longer listed had counted.
  #folded: Record<Counted, number> = { received: 0, dispatched: 0, dropped: 0, rejected: 0 };
  #main: Connection | undefined;
  #unlistedNoticed = new Set<string>();
  #unnamed = 0;
  #stopDrainingOnSignals = () => {};
  #server: Promise<SocketServer> | undefined;
  #serverNow: SocketServer | undefined;
  #reserved = new Map<string, number>();
  // The links of the attached processes, by name, so that spawn() can tell
  // when the listener has read a process's socket to its end. detach()
  // forgets one (its name is then free again).
  #processLinks = new Map<string, SocketLink>();

  /** Builds a listener for `handlers`; nothing is set up until `start()`. */
  constructor(handlers: BaseHandler[], options?: QueueListenerOptions) {
    options ??= {};
    this.handlers = [...checkHandlers(handlers)];
    this.respectHandlerLevel = checkBoolean(
      "respectHandlerLevel",
      options.respectHandlerLevel ?? true,
    );
    this.maxInFlight = checkWholeNumber(
      "maxInFlight",
      options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    );
    this.maxInFlightBytes = checkWholeNumber(
      "maxInFlightBytes",
      options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES,
    );
    this.overflow = checkChoice("overflow", options.overflow ?? "block", ["block", "drop"]);
    this.handleSignals = checkBoolean("handleSignals", options.handleSignals ?? true);
    const onError = options.onError ?? ((error: HandlerError) => console.error(error));
    this.#fanOut = new FanOut(this.handlers, this.respectHandlerLevel, onError);
    this.#context = {
      fanOut: this.#fanOut,
      maxInFlight: this.maxInFlight,
      maxInFlightBytes: this.maxInFlightBytes,
      isOpen: () => this.#state === "started" || this.#state === "stopping",
      noticeUnlisted: (logger, level, from) => this.#noticeUnlisted(logger, level, from),
    };
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
    this.#fanOut.setup();
    this.#state = "started";
    if (this.handleSignals) this.#stopDrainingOnSignals = drainOnSignals(this.#drainForExit);
    return this;
  }

  /**
   * The level name below which nothing is written, and senders send nothing:
   * the lowest-level handler's, or "NOTSET" with `respectHandlerLevel: false`.
   */
  get lowestLevel(): LevelName {
    return this.#fanOut.lowestLevel;
  }

  /** Whether `name` is free for a new sender. */
  isNameFree(name: string): boolean {
    return !this.#connections.has(name) && !this.#reserved.has(name) && name !== "main";
  }

  /**
   * Opens a channel for one sender and returns what its QueueHandler needs.
   * Transfer `connection.port` to the thread that will log, e.g.
   * `worker.postMessage(connection, [connection.port])`; `attach()` does
   * exactly that for a Worker.
   */
  connect(options?: ConnectOptions): QueueConnection {
    options ??= {};
    this.#assertStarted("connect");
    const name = options.name ?? this.#nextName();
    if (!this.isNameFree(name)) {
      throw new InvalidOptionError("name", name, "a name no other sender of this listener uses");
    }
    const link = openPortLink({
      name,
      ...(options.index === undefined ? {} : { index: options.index }),
      level: this.lowestLevel,
      maxInFlight: this.maxInFlight,
      maxInFlightBytes: this.maxInFlightBytes,
      overflow: this.overflow,
    });
    const connection = new Connection(name, options.index, this.#context, link);
    link.listen((message) => connection.receive(message));
    this.#connections.set(name, connection);
    return link.wire;
  }

  /**
   * Connects a Worker, or whatever is at the other end of a MessagePort:
   * posts it a connection, which `setupWorkerLogging()` there picks up (from
   * its global scope for a Worker, from `source` for a port). Returns the
   * sender's name.
   */
  attach(target: Worker | MessagePort, options?: ConnectOptions): string {
    const connection = this.connect(options);
    target.postMessage({ [CONNECT_KEY]: connection }, [connection.port as MessagePort]);
    return connection.name;
  }

  /**
   * Accepts senders in other processes: `setupProcessLogging()` there routes
   * their @std/log loggers here, over a Unix socket (the default: in a fresh
   * directory only this user can enter), TCP on loopback or TLS. Each must
   * present the token. Resolves with the address, the token, and both as
   * environment variables to hand a child process. A process that
   * reconnects (same name) continues as the same sender; what it resends is
   * written once. Once only per listener; `stop()` closes the socket.
   *
   * @example Four child processes, one log file
   * ```ts ignore
   * import { jsonLinesFormatter, QueueListener } from "@workerlog/workerlog";
   * import { FileHandler } from "@std/log";
   *
   * await using listener = new QueueListener([
   *   new FileHandler("INFO", { filename: "app.log", formatter: jsonLinesFormatter }),
   * ]).start();
   * const { env } = await listener.listen();
   * const children = [0, 1, 2, 3].map((i) =>
   *   new Deno.Command("deno", {
   *     args: ["run", "--allow-env", "--allow-read", "--allow-write", "child.ts"],
   *     env: { ...env, WORKERLOG_NAME: `child-${i}` },
   *   }).output()
   * );
   * await Promise.all(children); // child.ts: setupProcessLogging(), log, await handler.flush()
   * ```
   */
  listen(options?: ListenOptions): Promise<ListenInfo> {
    this.#assertStarted("listen");
    if (this.#server !== undefined) {
      return Promise.reject(
        new ListenerStateError("This listener already listens; call listen() once."),
      );
    }
    const opening = SocketServer.open(options ?? {}, {
      level: () => this.lowestLevel,
      register: (link) => this.#registerSocketLink(link),
    });
    this.#server = opening;
    return opening.then(
      (server) => {
        this.#serverNow = server;
        return server.info;
      },
      (error) => {
        // Bad options or an address in use: the listener may listen again.
        if (this.#server === opening) this.#server = undefined;
        throw error;
      },
    );
  }

  /**
   * What `listen()` resolves with (address, token, env), once it has been
   * called; undefined before. A promise, since the socket may still be
   * opening. Lets code that was handed a listener reuse its socket.
   *
   * @example Listen unless someone already did
   * ```ts ignore
   * const { env } = await (listener.listening ?? listener.listen());
   * ```
   */
  get listening(): Promise<ListenInfo> | undefined {
    return this.#server?.then((server) => server.info);
  }

  /**
   * Writes everything the sender had posted, then closes its channel; what
   * it posts later is counted as rejected. Resolves when done.
   */
  detach(name: string): Promise<void> {
    const connection = this.#connections.get(name);
    if (connection === undefined) {
      this.#reserved.delete(name);
      return Promise.resolve();
    }
    return connection.detached ??= this.#close(connection).then(() => {
      this.#connections.delete(name);
      this.#processLinks.delete(name);
      this.#retire(connection);
    });
  }

  /**
   * A handler for main-thread loggers: records logged through it go to this
   * listener's handlers like any worker's, from the sender named "main". It
   * owns nothing, so give it to `log.setup()` instead of the real handlers.
   */
  handler(levelName?: LevelName): BaseHandler {
    this.#main ??= new Connection("main", undefined, this.#context);
    return new MainThreadHandler(levelName ?? "NOTSET", this.#main);
  }

  /** The counters: per sender and in total. */
  stats(): ListenerStats {
    // Detached senders count on: a worker still logging after a stop
    // keeps adding to what it rejected.
    const all = [...this.#retired, ...this.#connections.values()];
    if (this.#main) all.push(this.#main);
    const senders = all.map((connection) => connection.stats());
    const sum = (key: Counted) =>
      senders.reduce((total, sender) => total + sender[key], this.#folded[key]);
    const peers = this.#serverNow?.stats();
    return {
      received: sum("received"),
      dispatched: sum("dispatched"),
      dropped: sum("dropped"),
      rejected: sum("rejected"),
      handlerErrors: this.#fanOut.handlerErrors,
      senders,
      refusedPeers: peers?.refused ?? 0,
      ...(peers === undefined ? {} : { peers }),
    };
  }

  // A listener that outlives many runs keeps the counters of the last
  // detached senders by name, and only the totals of older ones.
  #retire(connection: Connection) {
    this.#retired.push(connection);
    if (this.#retired.length <= MAX_RETIRED_SENDERS) return;
    const oldest = this.#retired.shift()!.stats();
    for (const key of ["received", "dispatched", "dropped", "rejected"] as const) {
      this.#folded[key] += oldest[key];
    }
  }

  /**
   * Drains every sender (everything already posted is written; what comes
   * later is rejected), then flushes and destroys the handlers, after
   * waiting for those that deliver asynchronously. Idempotent: every call
   * returns the same promise.
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  /** Calls `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop() {
    this.#stopDrainingOnSignals();
    if (this.#state === "new") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopping";
    const server = await this.#server?.catch(() => undefined);
    await server?.close();
    await this.#main?.close();
    await Promise.all([...this.#connections.keys()].map((name) => this.detach(name)));
    // No socket outlives stop(): a sender that does not read its last ack is
    // closed at the last-write deadline (1 s); this bound only guards a bug.
    await within(server?.sendersClosed() ?? Promise.resolve(), SENDERS_CLOSED_MS, undefined);
    await this.#fanOut.destroy();
    this.#state = "stopped";
  }

  // The program is ending on a signal: the workers post what they are
  // building, then everything is written.
  #drainForExit = async () => {
    await this.#collectBatches(SIGNAL_GRACE_MS);
    await this.stop();
  };

  #collectBatches(graceMs: number): Promise<void> {
    const posted = Promise.all([...this.#connections.values()].map((c) => c.requestPost()));
    return within(posted.then(() => {}), graceMs, undefined);
  }

  async #close(connection: Connection) {
    if (!await connection.close()) {
      console.error(
        `workerlog: gave up waiting for messages from ${connection.name}; ` +
          `they are counted as rejected.`,
      );
    }
  }

  // A new process under a free (or reserved) name becomes an ordinary connection.
  #registerSocketLink(link: SocketLink): boolean {
    const index = this.#reserved.get(link.name);
    if (this.#state !== "started") return false;
    if (index === undefined && !this.isNameFree(link.name)) return false;
    this.#reserved.delete(link.name);
    this.#processLinks.set(link.name, link);
    const connection = new Connection(link.name, index, this.#context, link);
    link.listen((message) => connection.receive(message), () => connection.noticeDrops());
    this.#connections.set(link.name, connection);
    return true;
  }

  #reserve(names: readonly string[]): boolean {
    this.#assertStarted("connect");
    if (!names.every((name) => this.isNameFree(name))) return false;
    names.forEach((name, index) => this.#reserved.set(name, index));
    return true;
  }

  static {
    reserveProcessNames = (listener, names) => listener.#reserve(names);
    collectBatches = (listener, graceMs) => listener.#collectBatches(graceMs);
    processDisconnected = (listener, name) =>
      listener.#processLinks.get(name)?.disconnected ?? Promise.resolve();
  }

  #noticeUnlisted(logger: string, level: LevelName, from: Connection) {
    // Bounded: a sender (e.g. a process with the token) may name any number
    // of loggers; past the cap, one last notice says so.
    const noticed = this.#unlistedNoticed;
    if (noticed.has(logger) || noticed.size > MAX_UNLISTED_NOTICES) return;
    noticed.add(logger);
    if (noticed.size > MAX_UNLISTED_NOTICES) {
      from.notice(
        30,
        `More than ${MAX_UNLISTED_NOTICES} loggers are not listed in the loggers option; no ` +
          `further notices are written. List the loggers your senders use.`,
      );
      return;
    }
    from.notice(
      30,
      `Logger "${logger}" is not listed in the loggers option; its records go to the ` +
        `listener at level ${level}. List it to set its level, e.g. loggers: { ${
          JSON.stringify(logger)
        }: { level: "DEBUG" } }, or set routeUnlistedLoggers: false to leave such loggers ` +
        `without handlers.`,
    );
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
    do name = `worker-${this.#unnamed++}`; while (!this.isNameFree(name));
    return name;
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
