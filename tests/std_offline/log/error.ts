// Offline stand-in for jsr:@std/log@0.224.14 `error.ts`.
import { getLogger } from "./get_logger.ts";
import type { GenericFunction } from "./logger.ts";
import "./setup.ts";

/** Logs at ERROR on the default logger. */
export function error<T>(msg: () => T, ...args: unknown[]): T | undefined;
export function error<T>(
  msg: T extends GenericFunction ? never : T,
  ...args: unknown[]
): T;
export function error<T>(
  msg: (T extends GenericFunction ? never : T) | (() => T),
  ...args: unknown[]
): T | undefined {
  if (msg instanceof Function) return getLogger("default").error(msg, ...args);
  return getLogger("default").error(msg, ...args);
}
