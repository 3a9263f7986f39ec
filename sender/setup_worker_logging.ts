import type { FormatterFunction } from "@std/log";
import { sendCounted } from "../common/_flow.ts";
import { checkRouting } from "../common/_options.ts";
import { CONNECT_KEY, type QueueConnection, UNLISTED } from "../common/_wire.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import { ListenerStateError } from "../errors.ts";
import { QueueHandler } from "./queue_handler.ts";
import { routeLoggers } from "./_route_loggers.ts";
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
export interface WorkerLoggingOptions extends LoggingOptions {
  /**
   * Where to send. Default: the connection `QueueListener.attach()` posts to
   * this worker, which this function waits for.
   */
  connection?: QueueConnection;
  /**
   * Format records in this worker with this formatter and send finished
   * lines (the QueueHandler's `preformat`). Use it only with a formatter that
   * is a pure function of the record.
   */
  formatter?: FormatterFunction;
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
 * Routes the @std/log package inside this worker to a
 * {@linkcode QueueListener} on the main thread: installs a
 * {@linkcode QueueHandler} on the default logger, on every logger named in
 * `loggers` and (unless `routeUnlistedLoggers` is false) on every logger
 * made later by `getLogger()` for a name nobody listed. The batch being
 * built is posted when the worker fails with an uncaught error, calls
 * `self.close()` or `Deno.exit()`, or unloads. The main thread calls
 * `listener.attach(worker)`; the connection message it posts never reaches
 * the worker's own `onmessage`.
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
  options?: WorkerLoggingOptions,
): Promise<QueueHandler> {
  options ??= {};
  const routing = checkRouting(options);
  const connection = options.connection ??
    await receiveConnection(options.source, options.signal);
  const handler = new QueueHandler("NOTSET", {
    connection,
    preformat: options.formatter !== undefined,
    ...(options.formatter ? { formatter: options.formatter } : {}),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  const level = routing.level ?? connection.level ?? "NOTSET";
  const shared = connection.shared ? new Int32Array(connection.shared) : undefined;
  routeLoggers(
    handler,
    level,
    routing.loggers,
    routing.routeUnlisted,
    (logger) => sendCounted(connection.port, shared, { kind: UNLISTED, logger, level }),
  );
  return handler;
}

// QueueListener.attach(worker) posts the connection on the worker's own
// channel. Caught here from the moment this module is loaded, before any
// code of the worker's can set `onmessage`, it never reaches that code.
let attached: QueueConnection | undefined;
let onAttached: ((connection: QueueConnection) => void) | undefined;
if (workerScope() !== undefined) {
  addEventListener("message", (event) => {
    const connection = (event as MessageEvent).data?.[CONNECT_KEY];
    if (connection === undefined) return;
    event.stopImmediatePropagation();
    if (onAttached) onAttached(connection);
    else attached = connection;
  });
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
  signal?.throwIfAborted();
  if (port === undefined && attached !== undefined) {
    const connection = attached;
    attached = undefined;
    return Promise.resolve(connection);
  }
  const { promise, resolve, reject } = Promise.withResolvers<QueueConnection>();
  const onPortMessage = (event: MessageEvent) => {
    const connection = event.data?.[CONNECT_KEY];
    if (connection !== undefined) done(connection);
  };
  const onAbort = () => {
    stopWaiting();
    reject(signal?.reason);
  };
  const done = (connection: QueueConnection) => {
    stopWaiting();
    resolve(connection);
  };
  const stopWaiting = () => {
    onAttached = undefined;
    port?.removeEventListener("message", onPortMessage);
    signal?.removeEventListener("abort", onAbort);
  };
  if (port) {
    port.addEventListener("message", onPortMessage);
    port.start();
  } else {
    onAttached = done;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  return promise;
}
