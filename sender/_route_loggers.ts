/**
 * Routing the @std/log package of a thread or process to one handler: the
 * default logger, the listed loggers, and (optionally) every logger nobody
 * listed. Shared by `setupWorkerLogging()` and `setupProcessLogging()`.
 *
 * @module
 */
import { type BaseHandler, type LevelName, type LoggerConfig, setup } from "@std/log";
import type { LoggerOptions } from "../common/logging_options.ts";
import { routeUnlistedLoggers, stopRoutingUnlistedLoggers } from "./_unlisted_loggers.ts";

/**
 * Installs `handler` on the default logger at `level` and on each of
 * `loggers` at its own level (or `level`). With `routeUnlisted`, a logger
 * nobody listed gets it at its first call, and `notice(name)` is called once.
 */
export function routeLoggers(
  handler: BaseHandler,
  level: LevelName,
  loggers: Record<string, LoggerOptions>,
  routeUnlisted: boolean,
  notice: (logger: string) => void,
): void {
  const routed: Record<string, LoggerConfig> = {
    default: { level, handlers: ["workerlog"] },
  };
  for (const [name, config] of Object.entries(loggers)) {
    routed[name] = { level: config.level ?? level, handlers: ["workerlog"] };
  }
  setup({ handlers: { workerlog: handler }, loggers: routed });
  if (routeUnlisted) routeUnlistedLoggers(handler, level, notice);
  else stopRoutingUnlistedLoggers();
}
