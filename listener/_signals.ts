/**
 * Draining on SIGINT and SIGTERM. Deno fires no "unload" event when a signal
 * ends the process, so without this everything still in flight, in the
 * workers' current batches and in the handlers' buffers would be lost.
 *
 * One set of signal listeners serves every listener of the process: a signal
 * drains all of them, and the process exits once the last is done (with one
 * listener per listener, the first to finish would exit under the others).
 *
 * @module
 */

/** The exit code a shell reports for a process ended by the signal: 128 + its number. */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

type DrainSignal = keyof typeof EXIT_CODES;

const drains = new Set<() => Promise<void>>();
let installed: { signal: DrainSignal; listener: () => void }[] = [];
let draining = false;

/**
 * Until the returned function is called, SIGINT and SIGTERM run `drain()`
 * (with every other registered drain, at the same time) and then exit the
 * process with the code the signal's default action gives. A second signal
 * while draining exits at once.
 */
export function drainOnSignals(drain: () => Promise<void>): () => void {
  drains.add(drain);
  if (installed.length === 0) install();
  return () => {
    drains.delete(drain);
    if (drains.size === 0 && !draining) uninstall();
  };
}

function onSignal(signal: DrainSignal) {
  if (draining) Deno.exit(EXIT_CODES[signal]);
  draining = true;
  // A drain removes itself (it stops its listener): iterate over a copy.
  Promise.allSettled([...drains].map((drain) => drain()))
    .finally(() => Deno.exit(EXIT_CODES[signal]));
}

function install() {
  for (const signal of Object.keys(EXIT_CODES) as DrainSignal[]) {
    const listener = () => onSignal(signal);
    if (tryAdd(signal, listener)) installed.push({ signal, listener });
  }
}

function uninstall() {
  for (const { signal, listener } of installed) Deno.removeSignalListener(signal, listener);
  installed = [];
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
