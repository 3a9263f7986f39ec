/**
 * Waiting with a bound, the one way the project does it: what a promise
 * gives if it settles within a time, else a given value, and no timer left
 * behind either way.
 *
 * @module
 */

/** `promise`'s value if it resolves within `ms`, else `otherwise`. */
export async function within<T>(promise: Promise<T>, ms: number, otherwise: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((resolve) => timer = setTimeout(resolve, ms, otherwise));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
