/**
 * The one set of worker exit hooks. A worker can end, or fail, in ways that
 * never return to the code that logged: an uncaught error, an unhandled
 * rejection, `self.close()`, `Deno.exit()`. On each of them, first every
 * QueueHandler posts the batch it is building, and only then are the
 * endings reported (spawn's bootstrap tells the main thread), so that the
 * listener, which drains a sender by counting its messages, counts that last
 * batch before it learns the worker is gone.
 *
 * @module
 */
import { workerScope } from "./_worker_scope.ts";

/** How a worker ended or failed, as the hooks saw it. */
export type WorkerEnding =
  | { kind: "error"; error: unknown; event: Event }
  | { kind: "close" }
  | { kind: "exit"; code: number };

const pending = new Set<() => void>();
const reporters: ((ending: WorkerEnding) => void)[] = [];
let installed = false;

/** Runs `postPending` on every way out; returns a function that stops it. */
export function postPendingOnExit(postPending: () => void): () => void {
  install();
  pending.add(postPending);
  return () => pending.delete(postPending);
}

/** Calls `report` on every way out, after every pending batch was posted. */
export function reportEndings(report: (ending: WorkerEnding) => void): void {
  install();
  reporters.push(report);
}

function end(ending: WorkerEnding) {
  for (const postPending of pending) {
    try {
      postPending();
    } catch {
      // Posting is best effort here: the worker is going away either way.
    }
  }
  for (const report of reporters) report(ending);
}

function install() {
  if (installed) return;
  installed = true;
  addEventListener("error", (event) => end({ kind: "error", error: event.error, event }));
  addEventListener(
    "unhandledrejection",
    (event) => end({ kind: "error", error: event.reason, event }),
  );
  // Deno.exit() in a worker ends only that worker, and fires "unload" there.
  addEventListener("unload", () => end({ kind: "exit", code: Deno.exitCode }));
  const scope = workerScope();
  if (scope === undefined) return;
  const close = scope.close;
  scope.close = () => {
    end({ kind: "close" });
    close.call(scope);
  };
}
