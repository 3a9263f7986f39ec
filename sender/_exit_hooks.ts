/**
 * The one set of worker exit hooks. A worker can end, or fail, in ways that
 * never return to the code that logged: an uncaught error, an unhandled
 * rejection, `self.close()`, `Deno.exit()`. On each of them, first every
 * QueueHandler posts the batch it is building, and only then are the
 * endings reported (spawn's bootstrap tells the main thread), so that the
 * listener, which drains a sender by counting its messages, counts that last
 * batch before it learns the worker is gone.
 *
 * An error or a rejection that the program's own listener handles (it
 * calls `event.preventDefault()`, which in plain Deno keeps the program
 * running) is no ending: it is decided once every listener has run, so
 * what the program logged in its listener goes with the last batch.
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
  addEventListener("error", (event) => onError(event, event.error));
  addEventListener("unhandledrejection", (event) => onError(event, event.reason));
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

// The copies onError dispatches, which it lets pass.
const copies = new WeakSet<Event>();

// An uncaught error or an unhandled rejection. Where nothing reports
// endings (a thread that only logs), the last batch is posted and the event
// goes on as it would have.
//
// Where something does (spawn's bootstraps), the program's own listeners
// decide first: in Deno a listener that calls preventDefault() keeps the
// program running. This listener is the first (the bootstraps install it
// before the user's module loads), yet it must decide after the others.
// Waiting is no way: Deno reads defaultPrevented as soon as the dispatch
// returns (in 2.9.6, for both events, in a worker and on a process's main
// thread), before any microtask, and a listener added during a dispatch is
// not called by it. So this one stops the event and dispatches a copy of it
// (same fields; Deno's own events are not trusted either) to every
// listener, now, synchronously; when that returns the program's listeners
// have run and what they logged is in the batch. The copy's
// defaultPrevented then says it all: prevented, the original is prevented
// too and the program goes on; not, it ends through the reporters, which
// prevent the original until the records are written. A listener that
// throws meanwhile raises an "error" event of its own, which takes the same
// path; the copy itself passes this listener by.
function onError(event: Event, error: unknown) {
  if (copies.has(event)) return;
  if (reporters.length === 0) return end({ kind: "error", error, event });
  event.stopImmediatePropagation();
  const copy = copyOf(event);
  copies.add(copy);
  dispatchEvent(copy);
  if (copy.defaultPrevented) event.preventDefault();
  else if (!handledByNode(event)) end({ kind: "error", error, event });
}

// node:process's "unhandledRejection" listeners hear of a rejection only
// after the dispatch, and only if it was not prevented; one that listens
// handles it, as in Node. So such a rejection is left to them.
function handledByNode(event: Event): boolean {
  if (event.type !== "unhandledrejection") return false;
  const process = (globalThis as { process?: { listenerCount?(name: string): number } }).process;
  return (process?.listenerCount?.("unhandledRejection") ?? 0) > 0;
}

// A new event with the fields of the one Deno dispatched.
function copyOf(event: Event): Event {
  const { type, cancelable } = event;
  if (event instanceof PromiseRejectionEvent) {
    const { promise, reason } = event;
    return new PromiseRejectionEvent(type, { cancelable, promise, reason });
  }
  if (event instanceof ErrorEvent) {
    const { message, filename, lineno, colno, error } = event;
    return new ErrorEvent(type, { cancelable, message, filename, lineno, colno, error });
  }
  return new Event(type, { cancelable });
}
