// Offline stand-in for jsr:@std/log@0.224.14 `critical.ts`.
import { getLogger } from "./get_logger.ts";
import type { GenericFunction } from "./logger.ts";
import "./setup.ts";

/** Logs at CRITICAL on the default logger. */
export function critical<T>(msg: () => T, ...args: unknown[]): T | undefined;
export function critical<T>(
  msg: T extends GenericFunction ? never : T,
  ...args: unknown[]
): T;
export function critical<T>(
  msg: (T extends GenericFunction ? never : T) | (() => T),
  ...args: unknown[]
): T | undefined {
  if (msg instanceof Function) return getLogger("default").critical(msg, ...args);
  return getLogger("default").critical(msg, ...args);
}
