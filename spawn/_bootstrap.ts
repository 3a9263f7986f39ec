/**
 * The module every worker started by spawn() runs: it routes the @std/log
 * package to the listener, imports the user's module, calls its default
 * export, and reports the result or the failure to spawn().
 *
 * spawn.ts imports this module too, so that it is part of the program's
 * module graph (`deno cache`, `deno compile`); it does something only as the
 * main module of a worker.
 *
 * @module
 */
import { describeError } from "../errors.ts";
import { checkDefaultExport, moduleLoadError, unsendableResult } from "./_user_module.ts";
import { textFormatter } from "../formatters/text_formatter.ts";
import { holdUntilFormatter, type QueueHandler } from "../sender/queue_handler.ts";
import { setupWorkerLogging } from "../sender/setup_worker_logging.ts";
import { reportEndings, type WorkerEnding } from "../sender/_exit_hooks.ts";
import { workerScope } from "../sender/_worker_scope.ts";
import type { Ending, FromWorker, StartMessage, ToWorker } from "./_control.ts";
import { START_KEY } from "./_control.ts";
import type { WorkerContext } from "./spawn.ts";

if (import.meta.main && workerScope() !== undefined) {
  const onStart = (event: Event) => {
    const start = (event as MessageEvent).data?.[START_KEY] as StartMessage | undefined;
    if (start === undefined) return;
    event.stopImmediatePropagation();
    removeEventListener("message", onStart);
    run(start);
  };
  addEventListener("message", onStart);
}

async function run(start: StartMessage) {
  const { control } = start;
  const aborter = new AbortController();
  control.onmessage = (event: MessageEvent<ToWorker>) => {
    aborter.abort(new DOMException(event.data.reason.message, "AbortError"));
  };
  const countAppMessages = countPostedMessages();
  let reported = false;
  const report = (ending: Ending) => {
    if (reported) return;
    reported = true;
    control.postMessage({ ...ending, appMessages: countAppMessages() } satisfies FromWorker);
  };
  let handler: QueueHandler | undefined;
  let releaseHeld: ((formatter: typeof textFormatter) => void) | undefined;
  try {
    handler = await setupWorkerLogging({
      ...start.logging,
      connection: start.connection,
      ...(start.preformat ? { formatter: textFormatter } : {}),
    });
    // The module's own formatter is known only once it has loaded; records
    // logged while it loads wait for it, so that one formatter formats all.
    if (start.preformat) releaseHeld = holdUntilFormatter(handler);
    reportEndings((ending) => reportEnding(ending, start.name, report));
    const module = await importModule(start.module);
    releaseHeld?.(typeof module.formatter === "function" ? module.formatter : textFormatter);
    const context: WorkerContext = {
      index: start.index,
      count: start.count,
      name: start.name,
      args: start.args,
      signal: aborter.signal,
    };
    control.postMessage({ kind: "ready" } satisfies FromWorker);
    const value = await module.default(context);
    handler.destroy();
    sendResult(value, start.module, report);
  } catch (error) {
    releaseHeld?.(textFormatter);
    handler?.destroy();
    report({ kind: "failed", error: describeError(error) });
  }
}

// Ways a worker can end before its function returns. Each is reported so
// that spawn() does not wait for a result that will never come; the exit
// hooks have posted the last batch by then. An uncaught error or rejection
// comes here only if the module's own listeners did not handle it; it is
// handled here (the worker is terminated once its records are written), so
// it reaches the caller once, as a WorkerError with the stack.
function reportEnding(ending: WorkerEnding, name: string, report: (ending: Ending) => void) {
  switch (ending.kind) {
    case "error":
      ending.event.preventDefault();
      report({ kind: "failed", error: describeError(ending.error) });
      break;
    case "close":
      report({
        kind: "failed",
        error: describeError(
          new Error(
            `${name} called self.close() before its function returned; ` +
              `return from the default export to end a spawned worker.`,
          ),
        ),
      });
      break;
    case "exit":
      report({ kind: "exited", code: ending.code });
      break;
  }
}

async function importModule(url: string) {
  let module;
  try {
    module = await import(url);
  } catch (error) {
    throw moduleLoadError(url, describeError(error).message, error);
  }
  checkDefaultExport(module, url);
  return module;
}

function sendResult(value: unknown, module: string, report: (ending: Ending) => void) {
  try {
    structuredClone(value);
  } catch (error) {
    report({
      kind: "failed",
      error: describeError(unsendableResult(module, "the main thread", error)),
    });
    return;
  }
  report({ kind: "done", value });
}

// Counts what the worker posts on its own channel (the application's), so
// that spawn() can wait for all of it before it ends the worker.
function countPostedMessages(): () => number {
  const scope = workerScope()!;
  const post = scope.postMessage;
  let posted = 0;
  scope.postMessage = function (this: unknown, ...args: Parameters<typeof post>) {
    post.apply(scope, args);
    posted++;
  };
  return () => posted;
}
