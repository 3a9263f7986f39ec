// Offline stand-in for the slice of jsr:@std/async@^1.0.0 this project uses.

/** Options of {@linkcode delay}. */
export interface DelayOptions {
  signal?: AbortSignal;
  persistent?: boolean;
}

/** Resolves after `ms` milliseconds; rejects with the signal's reason on abort. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, persistent = true } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
    if (!persistent) Deno.unrefTimer(timer);
  });
}

/** Thrown by {@linkcode deadline} when the time runs out. */
export class DeadlineError extends Error {
  constructor(message = "Deadline", options?: ErrorOptions) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** Options of {@linkcode deadline}. */
export interface DeadlineOptions {
  signal?: AbortSignal;
}

/** Settles as `promise` does, or rejects with DeadlineError after `ms`. */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  const timeout = AbortSignal.timeout(ms);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  return new Promise<T>((resolve, reject) => {
    const abort = () =>
      reject(
        signal.reason instanceof DOMException &&
          signal.reason.name === "TimeoutError"
          ? new DeadlineError()
          : signal.reason,
      );
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
