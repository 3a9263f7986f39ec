/**
 * The worker's global scope, typed. The project type-checks against Deno's
 * window types, which do not declare a worker's `postMessage` or `close`.
 *
 * @module
 */

/** The parts of a worker's global scope workerlog uses. */
export interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** The worker scope, or undefined when this code runs on the main thread. */
export function workerScope(): WorkerScope | undefined {
  const scopeClass = (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope;
  return typeof scopeClass === "function" && globalThis instanceof scopeClass
    ? globalThis as unknown as WorkerScope
    : undefined;
}
