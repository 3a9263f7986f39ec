import type { FormatterFunction, LevelName } from "@std/log";
import { ADDRESS_ENV, LEVEL_ENV, NAME_ENV, TOKEN_ENV } from "../common/_address.ts";
import { checkLevel, checkRouting } from "../common/_options.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import { InvalidOptionError } from "../errors.ts";
import { noticeUnlisted, ProcessHandler, type ProcessHandlerOptions } from "./process_handler.ts";
import { routeLoggers } from "./_route_loggers.ts";

/**
 * Options of {@linkcode setupProcessLogging}. Without `address` and `token`
 * they come from the environment `listener.listen()` describes.
 *
 * @example Name the process, route "db" at DEBUG
 * ```ts
 * import type { ProcessLoggingOptions } from "@workerlog/workerlog";
 *
 * const options: ProcessLoggingOptions = { name: "importer", loggers: { db: { level: "DEBUG" } } };
 * ```
 */
export interface ProcessLoggingOptions extends
  LoggingOptions,
  Partial<
    Pick<
      ProcessHandlerOptions,
      "address" | "token" | "name" | "maxBufferBytes" | "maxFrameBytes" | "caCerts"
    >
  > {
  /**
   * Format records in this process with this formatter and send finished
   * lines (the handler's `preformat`). Use it only with a formatter that is
   * a pure function of the record.
   */
  formatter?: FormatterFunction;
}

/**
 * Routes the @std/log package of this process to a {@linkcode QueueListener}
 * in another process, as `setupWorkerLogging()` does for a worker: installs
 * a {@linkcode ProcessHandler} on the default logger, on every logger named
 * in `loggers` and (unless `routeUnlistedLoggers` is false) on every logger
 * nobody listed. The address, token, name and level come from
 * WORKERLOG_ADDRESS, WORKERLOG_TOKEN, WORKERLOG_NAME and WORKERLOG_LEVEL
 * (what `listen()` returns as `env`) unless the options give them; a
 * variable whose option is given is not read. Without the permission to
 * read it, WORKERLOG_NAME or WORKERLOG_LEVEL counts as unset, and a missing
 * address or token is an error that names the option and the variable.
 *
 * It connects in the background and never blocks: records logged before
 * the listener answers, or while it is away, are kept (up to
 * `maxBufferBytes`) and sent when it is back. `await handler.flush()`
 * before the program ends: the socket does not keep it alive.
 *
 * @example child.ts, started with the env from `listener.listen()`
 * ```ts ignore
 * import { setupProcessLogging } from "@workerlog/workerlog";
 * import * as log from "@std/log";
 *
 * // run with --allow-env, and for a Unix socket --allow-net --allow-read --allow-write
 * const handler = setupProcessLogging();
 * log.info("from a child process, into the parent's file");
 * await handler.flush(); // resolves once the listener has written it
 * ```
 */
export function setupProcessLogging(options?: ProcessLoggingOptions): ProcessHandler {
  options ??= {};
  const routing = checkRouting(options);
  // Each variable is read only if its option is not given.
  const address = options.address ?? fromEnvironment(ADDRESS_ENV, "address");
  const token = options.token ?? fromEnvironment(TOKEN_ENV, "token");
  const name = options.name ?? optionalEnvironment(NAME_ENV);
  const envLevel = routing.level === undefined ? optionalEnvironment(LEVEL_ENV) : undefined;
  const level: LevelName = routing.level ??
    (envLevel === undefined ? "NOTSET" : checkLevel(LEVEL_ENV, envLevel));
  const handler = new ProcessHandler("NOTSET", {
    address,
    token,
    ...(name === undefined ? {} : { name }),
    ...(options.maxBufferBytes === undefined ? {} : { maxBufferBytes: options.maxBufferBytes }),
    ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    ...(options.caCerts === undefined ? {} : { caCerts: options.caCerts }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    preformat: options.formatter !== undefined,
    ...(options.formatter ? { formatter: options.formatter } : {}),
  });
  routeLoggers(
    handler,
    level,
    routing.loggers,
    routing.routeUnlisted,
    (logger) => noticeUnlisted(handler, logger, level),
  );
  return handler;
}

// A variable the setup cannot do without: its option names what is missing.
function fromEnvironment(variable: string, option: string): string {
  let value: string | undefined;
  try {
    value = Deno.env.get(variable);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new InvalidOptionError(
      option,
      undefined,
      `the listener's ${option}: pass it, or run with --allow-env=${variable} to read it from ` +
        `the env that listener.listen() returns (${error.message})`,
    );
  }
  if (value === undefined) {
    throw new InvalidOptionError(
      option,
      undefined,
      `the listener's ${option}: pass it, or start this process with the env that ` +
        `listener.listen() returns (${variable} is not set)`,
    );
  }
  return value;
}

// A variable that may be missing: one this process may not read counts as unset.
function optionalEnvironment(variable: string): string | undefined {
  try {
    return Deno.env.get(variable);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}
