/**
 * When to retry an OTLP/HTTP export and how long to wait, as the OTLP
 * specification says: 429, 502, 503 and 504 are retryable, honouring
 * Retry-After; every other 4xx and 5xx is not. Otherwise exponential
 * backoff with jitter.
 *
 * @module
 */

/** Whether an HTTP status means "try the same request again later". */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/**
 * The wait a Retry-After header asks for, in ms: delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT", a wait of 0 once past).
 * undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only a date with letters in it: Date.parse() reads bare numbers too.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * The wait before retry number `retry` (1 for the first): the initial
 * delay doubled per retry, capped, then scaled by a random factor in
 * [0.5, 1] so that many exporters do not retry in step.
 */
export function backoffMs(
  retry: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** (retry - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * Resolves after `ms`, or at once when `signal` aborts; never rejects. The
 * timer is cleared either way.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
