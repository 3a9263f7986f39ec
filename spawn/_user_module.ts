/**
 * What spawn() says about the user's module, the same for workers and
 * processes: that it did not load, has no default export function, or
 * returned a value that cannot be sent back.
 *
 * @module
 */
import { describeError } from "../errors.ts";

/** The user's module could not be loaded (or evaluated): `why` says how. */
export function moduleLoadError(url: string, why: string, cause?: unknown): Error {
  return new Error(`Could not load worker module ${url}: ${why}`, { cause });
}

/** Throws unless the module's default export is a function. */
export function checkDefaultExport(module: { default?: unknown }, url: string): void {
  if (typeof module.default !== "function") {
    throw new TypeError(
      `Worker module ${url} has no default export function. ` +
        `Add one: export default async function ({ index, count, args, signal }) { ... }`,
    );
  }
}

/** The function's return value cannot be sent `to` where spawn() collects it. */
export function unsendableResult(url: string, to: string, error: unknown): TypeError {
  return new TypeError(
    `The value returned by the default export of ${url} cannot be sent to ${to} ` +
      `(${describeError(error).message}). Return structured-cloneable data.`,
  );
}
