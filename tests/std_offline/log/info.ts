// Offline stand-in for jsr:@std/log@0.224.14 `info.ts`.
import { getLogger } from "./get_logger.ts";
import type { GenericFunction } from "./logger.ts";
import "./setup.ts";

/** Logs at INFO on the default logger. */
export function info<T>(msg: () => T, ...args: unknown[]): T | undefined;
export function info<T>(
  msg: T extends GenericFunction ? never : T,
  ...args: unknown[]
): T;
export function info<T>(
  msg: (T extends GenericFunction ? never : T) | (() => T),
  ...args: unknown[]
): T | undefined {
  if (msg instanceof Function) return getLogger("default").info(msg, ...args);
  return getLogger("default").info(msg, ...args);
}
