/**
 * The checks of option values that more than one entry point takes, each in
 * one place. Every check throws an InvalidOptionError that says what to pass.
 *
 * @module
 */
import { type LevelName, LogLevelNames } from "@std/log";
import { describeError, InvalidOptionError } from "../errors.ts";
import type { LoggerOptions, LoggingOptions } from "./logging_options.ts";
import { hasControlCharacters } from "./_frames.ts";

/** Throws an InvalidOptionError listing the valid names unless `value` is a level name. */
export function checkLevel(option: string, value: unknown): LevelName {
  // An own-property lookup in a list: "toString" is no level name, whatever
  // getLevelByName() says of it.
  if (typeof value !== "string" || !(LogLevelNames as string[]).includes(value)) {
    throw new InvalidOptionError(option, value, `one of ${LogLevelNames.join(", ")}`);
  }
  return value as LevelName;
}

/** Checks a `loggers` option: names to `{ level? }`. */
export function checkLoggers(loggers: unknown): Record<string, LoggerOptions> {
  if (typeof loggers !== "object" || loggers === null || Array.isArray(loggers)) {
    throw new InvalidOptionError(
      "loggers",
      loggers,
      `an object of logger names, e.g. { app: { level: "DEBUG" } }`,
    );
  }
  for (const [name, config] of Object.entries(loggers)) {
    if (typeof config !== "object" || config === null) {
      throw new InvalidOptionError(
        `loggers.${name}`,
        config,
        `an object such as { level: "INFO" }`,
      );
    }
    const level = (config as LoggerOptions).level;
    if (level !== undefined) checkLevel(`loggers.${name}.level`, level);
  }
  return loggers as Record<string, LoggerOptions>;
}

/** Throws unless `value` is a whole number of at least `min`. */
export function checkWholeNumber(option: string, value: unknown, min = 1): number {
  if (!Number.isInteger(value) || (value as number) < min) {
    throw new InvalidOptionError(
      option,
      value,
      `a whole number of at least ${min}, e.g. { ${option}: ${Math.max(min, 4)} }`,
    );
  }
  return value as number;
}

/** The most records a batch may hold: its logger indexes are 16-bit. */
export const MAX_BATCH_SIZE = 65_536;

/** Throws unless `value` is a batch size: a whole number from 1 to MAX_BATCH_SIZE. */
export function checkBatchSize(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_BATCH_SIZE) {
    throw new InvalidOptionError(
      "batchSize",
      value,
      `a whole number from 1 to ${MAX_BATCH_SIZE}, e.g. { batchSize: 1024 }`,
    );
  }
  return value as number;
}

/**
 * Throws unless `name` can name a sender on every transport: 1 to 256
 * characters, no control characters (a socket's hello carries it).
 */
export function checkSenderName(option: string, name: unknown): string {
  if (
    typeof name !== "string" || name === "" || name.length > 256 || hasControlCharacters(name)
  ) {
    throw new InvalidOptionError(option, name, "1 to 256 characters, no control characters");
  }
  return name;
}

/** Throws unless `value` is an AbortSignal (or undefined). */
export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new InvalidOptionError("signal", value, "an AbortSignal, e.g. AbortSignal.timeout(10_000)");
}

/** Throws unless `value` is true or false. */
export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new InvalidOptionError(option, value, "true or false");
  return value;
}

/**
 * A listener's token: 16 to 512 characters without control characters (it
 * travels in the hello). `otherwise` says what leaving it out does. The
 * value is never shown.
 */
export function checkToken(token: unknown, otherwise: string): string {
  if (
    typeof token !== "string" || token.length < 16 || token.length > 512 ||
    hasControlCharacters(token)
  ) {
    throw new InvalidOptionError(
      "token",
      "(hidden)",
      `a string of 16 to 512 characters without control characters, or no token to ${otherwise}`,
    );
  }
  return token;
}

/** The routing options every entry point takes, checked once. */
export interface Routing {
  /** Absent when not given: each caller has its own default. */
  level?: LevelName;
  loggers: Record<string, LoggerOptions>;
  routeUnlisted: boolean;
}

/** Checks `level`, `loggers` and `routeUnlistedLoggers` (default true). */
export function checkRouting(options: LoggingOptions): Routing {
  const routing: Routing = {
    loggers: checkLoggers(options.loggers ?? {}),
    routeUnlisted: checkBoolean("routeUnlistedLoggers", options.routeUnlistedLoggers ?? true),
  };
  if (options.level !== undefined) routing.level = checkLevel("level", options.level);
  return routing;
}

/** Throws unless `value` is one of `choices`. */
export function checkChoice<T extends string>(
  option: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (!(choices as readonly unknown[]).includes(value)) {
    throw new InvalidOptionError(option, value, choices.map((c) => `"${c}"`).join(" or "));
  }
  return value as T;
}

/** Throws unless structured clone can copy `value` to `where` (e.g. "the workers"). */
export function checkCloneable<T>(option: string, value: T, where: string): T {
  try {
    structuredClone(value);
  } catch (error) {
    throw new InvalidOptionError(
      option,
      value,
      `a value structured clone can copy to ${where} (${describeError(error).message}); ` +
        `pass plain data, not functions or class instances with methods`,
    );
  }
  return value;
}

/**
 * A module option as a URL: a URL as it is, a string that parses as one, or
 * a path taken from the current directory. `example` shows what to pass.
 */
export function toModuleUrl(option: string, module: unknown, example: string): URL {
  if (module instanceof URL) return module;
  if (typeof module !== "string" || module === "") {
    throw new InvalidOptionError(option, module, `a module URL, e.g. ${example}`);
  }
  if (URL.canParse(module) && !/^[a-zA-Z]:[\\/]/.test(module)) return new URL(module);
  const cwd = Deno.cwd().replaceAll("\\", "/");
  const base = new URL(`file://${cwd.startsWith("/") ? "" : "/"}${encodePath(cwd)}/`);
  return new URL(encodePath(module.replaceAll("\\", "/")), base);
}

// A path as a URL path: encodeURI leaves "#" and "?", which a URL reads as
// the start of a fragment or a query, not as part of a file name.
function encodePath(path: string): string {
  return encodeURI(path).replaceAll("#", "%23").replaceAll("?", "%3F");
}
