/**
 * Draining on SIGINT and SIGTERM. Deno fires no "unload" event when a signal
 * ends the process, so without this everything still in flight, in the
 * workers' current batches and in the handlers' buffers would be lost.
 *
 * @module
 */

/** The exit code a shell reports for a process ended by the signal: 128 + its number. */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

type DrainSignal = keyof typeof EXIT_CODES;

/**
 * Until the returned function is called, SIGINT and SIGTERM run `drain()`
 * and then exit the process with the code the signal's default action gives.
 * A second signal while draining exits at once.
 */
export function drainOnSignals(drain: () => Promise<void>): () => void {
  let draining = false;
  const listeners = (Object.keys(EXIT_CODES) as DrainSignal[]).map((signal) => {
    const listener = () => {
      if (draining) Deno.exit(EXIT_CODES[signal]);
      draining = true;
      drain().finally(() => Deno.exit(EXIT_CODES[signal]));
    };
    return { signal, listener, added: tryAdd(signal, listener) };
  });
  return () => {
    for (const { signal, listener, added } of listeners) {
      if (added) Deno.removeSignalListener(signal, listener);
    }
  };
}

// Windows has no SIGTERM listener, and a sandbox may refuse signals at all.
function tryAdd(signal: DrainSignal, listener: () => void): boolean {
  try {
    Deno.addSignalListener(signal, listener);
    return true;
  } catch {
    return false;
  }
}
