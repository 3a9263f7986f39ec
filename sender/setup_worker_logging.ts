import { type FormatterFunction, type LevelName, type LoggerConfig, setup } from "@std/log";
import { CONNECT_KEY, type QueueConnection } from "../common/_wire.ts";
import { ListenerStateError } from "../errors.ts";
import { QueueHandler } from "./queue_handler.ts";
import { checkLevel, checkLoggers } from "../common/_options.ts";
import { workerScope } from "./_worker_scope.ts";

/**
 * Options of {@linkcode setupWorkerLogging}.
 *
 * @example Route "db" at DEBUG, everything else at INFO, give up after 5 s
 * ```ts
 * import type { WorkerLoggingOptions } from "@workerlog/workerlog/worker";
 *
 * const options: WorkerLoggingOptions = {
 *   level: "INFO",
 *   loggers: { db: { level: "DEBUG" } },
 *   signal: AbortSignal.timeout(5_000),
 * };
 * ```
 */
export interface WorkerLoggingOptions {
  /**
   * Where to send. Default: the connection `QueueListener.attach()` posts to
   * this worker, which this function waits for.
   */
  connection?: QueueConnection;
  /**
   * Level of the default logger and of named loggers without their own.
   * Default: the lowest level among the listener's handlers.
   */
  level?: LevelName;
  /**
   * Named loggers to route to the listener, e.g. `{ db: { level: "DEBUG" } }`.
   * @std/log has no logger hierarchy: `getLogger("db")` for a name not
   * listed here returns a logger without handlers, whose records vanish.
   */
  loggers?: Record<string, Pick<LoggerConfig, "level">>;
  /**
   * Format records in this worker with this formatter and send finished
   * lines (the QueueHandler's `preformat`). Use it only with a formatter that
   * is a pure function of the record.
   */
  formatter?: FormatterFunction;
  /** Records per batch. Default: 512. */
  batchSize?: number;
  /**
   * Where the listener's connection arrives: the worker's global scope (the
   * default, for `listener.attach(worker)`), or a MessagePort whose other end
   * the main thread gave to `listener.attach(port)`.
   */
  source?: MessagePort;
  /** Stops waiting for the listener's connection. */
  signal?: AbortSignal;
}

/**
 * Routes @std/log inside this worker to a {@linkcode QueueListener} on the
 * main thread: installs a {@linkcode QueueHandler} on the default logger and
 * on every logger named in `loggers`, and makes sure the batch being built is
 * posted when the worker fails with an uncaught error, calls `self.close()`,
 * or unloads. Call it first, before the worker sets `onmessage`; the main
 * thread calls `listener.attach(worker)`.
 *
 * Resolves with the installed handler; `await handler.flush()` waits until
 * the listener has written everything logged so far.
 *
 * @example worker.ts, for a worker the main thread made and attached
 * ```ts ignore
 * import { setupWorkerLogging } from "@workerlog/workerlog/worker";
 * import * as log from "@std/log";
 *
 * const handler = await setupWorkerLogging({ loggers: { db: { level: "DEBUG" } } });
 * log.info("hello from a worker");
 * log.getLogger("db").debug("connected");
 * await handler.flush();
 * ```
 */
export async function setupWorkerLogging(
  options: WorkerLoggingOptions = {},
): Promise<QueueHandler> {
  if (options.level !== undefined) checkLevel("level", options.level);
  const loggers = checkLoggers(options.loggers ?? {});
  const connection = options.connection ??
    await receiveConnection(options.source, options.signal);
  const handler = new QueueHandler("NOTSET", {
    connection,
    preformat: options.formatter !== undefined,
    ...(options.formatter ? { formatter: options.formatter } : {}),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  const level = options.level ?? connection.level ?? "NOTSET";
  const routed: Record<string, LoggerConfig> = {
    default: { level, handlers: ["workerlog"] },
  };
  for (const [name, config] of Object.entries(loggers)) {
    routed[name] = { level: config.level ?? level, handlers: ["workerlog"] };
  }
  setup({ handlers: { workerlog: handler }, loggers: routed });
  postPendingOnExit(handler);
  return handler;
}

function receiveConnection(
  port: MessagePort | undefined,
  signal: AbortSignal | undefined,
): Promise<QueueConnection> {
  if (port === undefined && workerScope() === undefined) {
    throw new ListenerStateError(
      "setupWorkerLogging() without a connection or source waits for QueueListener.attach(worker), " +
        "which only reaches a Worker. On the main thread, log through listener.handler().",
    );
  }
  const source: EventTarget = port ?? globalThis;
  signal?.throwIfAborted();
  const { promise, resolve, reject } = Promise.withResolvers<QueueConnection>();
  const onMessage = (event: Event) => {
    const connection = (event as MessageEvent).data?.[CONNECT_KEY];
    if (connection === undefined) return;
    event.stopImmediatePropagation();
    stopWaiting();
    resolve(connection);
  };
  const onAbort = () => {
    stopWaiting();
    reject(signal?.reason);
  };
  const stopWaiting = () => {
    source.removeEventListener("message", onMessage);
    signal?.removeEventListener("abort", onAbort);
  };
  source.addEventListener("message", onMessage);
  port?.start();
  signal?.addEventListener("abort", onAbort, { once: true });
  return promise;
}

// A worker that dies or closes loses whatever it has not posted: post the
// batch being built on every way out that still runs code.
function postPendingOnExit(handler: QueueHandler) {
  const postPending = () => handler.destroy();
  globalThis.addEventListener("error", postPending);
  globalThis.addEventListener("unhandledrejection", postPending);
  globalThis.addEventListener("unload", postPending);
  const scope = workerScope();
  if (scope === undefined) return;
  const close = scope.close;
  scope.close = () => {
    postPending();
    close.call(scope);
  };
}
