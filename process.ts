/**
 * The sending side of workerlog for another process: import this instead of
 * the whole module in a program that only logs into a listener elsewhere.
 * It loads none of the listener, the sinks or spawn(), so the process
 * starts faster.
 *
 * @example child.ts, started with the env that `listener.listen()` returns
 * ```ts ignore
 * import { setupProcessLogging } from "@workerlog/workerlog/process";
 * import * as log from "@std/log";
 *
 * const handler = setupProcessLogging();
 * log.info("from a child process, into the parent's file");
 * await handler.flush(); // resolves once the listener has written it
 * ```
 *
 * @module
 */
export { type ProcessLoggingOptions, setupProcessLogging } from "./sender/setup_process_logging.ts";
export {
  ProcessHandler,
  type ProcessHandlerOptions,
  type ProcessHandlerStats,
} from "./sender/process_handler.ts";
export { textFormatter } from "./formatters/text_formatter.ts";
export { jsonLinesFormatter } from "./formatters/json_lines_formatter.ts";
