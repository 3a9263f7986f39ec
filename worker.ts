/**
 * The worker side of workerlog, for workers you create yourself: import
 * this instead of the whole module. Workers started by `spawn()` need
 * nothing from here but the {@linkcode WorkerContext} type.
 *
 * @example worker.ts, attached by `listener.attach(worker)` on the main thread
 * ```ts ignore
 * import { setupWorkerLogging } from "@workerlog/workerlog/worker";
 * import * as log from "@std/log";
 *
 * await setupWorkerLogging();
 * log.info("from the worker, into the main thread's file");
 * ```
 *
 * @module
 */
export { setupWorkerLogging, type WorkerLoggingOptions } from "./sender/setup_worker_logging.ts";
export { QueueHandler, type QueueHandlerOptions } from "./sender/queue_handler.ts";
export type { WorkerContext } from "./spawn/spawn.ts";
export { textFormatter } from "./formatters/text_formatter.ts";
export { jsonLinesFormatter } from "./formatters/json_lines_formatter.ts";
