import type { LevelName } from "@std/log";

/**
 * How one named logger is routed: its level.
 *
 * @example
 * ```ts
 * import type { LoggerOptions } from "@workerlog/workerlog";
 *
 * const db: LoggerOptions = { level: "DEBUG" };
 * ```
 */
export interface LoggerOptions {
  /** The logger's level. Default: the `level` of the options it is part of. */
  level?: LevelName;
}

/**
 * How the loggers of a thread or process that sends to a listener are set
 * up: shared by `spawn()` and `setupWorkerLogging()`.
 *
 * @example Route "db" at DEBUG and everything else at INFO
 * ```ts
 * import type { LoggingOptions } from "@workerlog/workerlog";
 *
 * const logging: LoggingOptions = { level: "INFO", loggers: { db: { level: "DEBUG" } } };
 * ```
 */
export interface LoggingOptions {
  /**
   * Level of the default logger and of named loggers without their own.
   * Default: the lowest level among the listener's handlers.
   */
  level?: LevelName;
  /**
   * Named loggers and their levels, e.g. `{ db: { level: "DEBUG" } }`. A
   * logger that is not listed is still routed, at `level` (see
   * `routeUnlistedLoggers`).
   */
  loggers?: Record<string, LoggerOptions>;
  /**
   * What happens to a logger nobody listed in `loggers`, which the @std/log
   * package creates without handlers: true (the default) routes it to the
   * listener at `level`, and the listener writes one WARN notice per logger
   * name; false leaves it without handlers, so its records go nowhere.
   */
  routeUnlistedLoggers?: boolean;
  /** Records per batch, 1 to 65,536. Default: 512. */
  batchSize?: number;
}
