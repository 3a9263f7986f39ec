// Offline stand-in for jsr:@std/log@0.224.14 `warn.ts`.
import { getLogger } from "./get_logger.ts";
import type { GenericFunction } from "./logger.ts";
import "./setup.ts";

/** Logs at WARN on the default logger. */
export function warn<T>(msg: () => T, ...args: unknown[]): T | undefined;
export function warn<T>(
  msg: T extends GenericFunction ? never : T,
  ...args: unknown[]
): T;
export function warn<T>(
  msg: (T extends GenericFunction ? never : T) | (() => T),
  ...args: unknown[]
): T | undefined {
  if (msg instanceof Function) return getLogger("default").warn(msg, ...args);
  return getLogger("default").warn(msg, ...args);
}
