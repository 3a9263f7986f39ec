// Offline stand-in for jsr:@std/log@0.224.14 `debug.ts`.
import { getLogger } from "./get_logger.ts";
import type { GenericFunction } from "./logger.ts";
import "./setup.ts";

/** Logs at DEBUG on the default logger. */
export function debug<T>(msg: () => T, ...args: unknown[]): T | undefined;
export function debug<T>(
  msg: T extends GenericFunction ? never : T,
  ...args: unknown[]
): T;
export function debug<T>(
  msg: (T extends GenericFunction ? never : T) | (() => T),
  ...args: unknown[]
): T | undefined {
  if (msg instanceof Function) return getLogger("default").debug(msg, ...args);
  return getLogger("default").debug(msg, ...args);
}
