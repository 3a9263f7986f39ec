/**
 * The module every worker started by spawn() runs: it routes @std/log to the
 * listener, imports the user's module, calls its default export, and reports
 * the result or the failure to spawn() on the Worker's own channel.
 *
 * @module
 */
import { describeError } from "../errors.ts";
import { textFormatter } from "../formatters/text_formatter.ts";
import type { QueueHandler } from "../sender/queue_handler.ts";
import type { FromWorker, StartMessage, ToWorker } from "./_control.ts";
import { setupWorkerLogging } from "../sender/setup_worker_logging.ts";
import type { WorkerContext } from "./spawn.ts";
import { type WorkerScope, workerScope } from "../sender/_worker_scope.ts";

const scope: WorkerScope = workerScope()!;
const aborter = new AbortController();
let failureReported = false;

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.kind === "start") run(message);
  else if (message.kind === "abort") {
    aborter.abort(new DOMException(message.reason.message, "AbortError"));
  }
};

async function run(start: StartMessage) {
  let handler: QueueHandler | undefined;
  try {
    handler = await setupWorkerLogging({
      connection: start.connection,
      level: start.level,
      loggers: start.loggers,
      ...(start.preformat ? { formatter: textFormatter } : {}),
      ...(start.batchSize === undefined ? {} : { batchSize: start.batchSize }),
    });
    reportEarlyExits(start.name);
    const module = await importModule(start.module);
    if (start.preformat && typeof module.formatter === "function") {
      handler.formatter = module.formatter;
    }
    const context: WorkerContext = {
      index: start.index,
      count: start.count,
      name: start.name,
      args: start.args,
      signal: aborter.signal,
    };
    const value = await module.default(context);
    handler.destroy();
    send({ kind: "done", value }, start.module);
  } catch (error) {
    handler?.destroy();
    reportFailure(error);
  }
}

async function importModule(url: string) {
  let module;
  try {
    module = await import(url);
  } catch (error) {
    throw new Error(`Could not load worker module ${url}: ${describeError(error).message}`, {
      cause: error,
    });
  }
  if (typeof module.default !== "function") {
    throw new TypeError(
      `Worker module ${url} has no default export function. ` +
        `Add one: export default async function ({ index, count, args, signal }) { ... }`,
    );
  }
  return module;
}

function send(message: FromWorker, module: string) {
  try {
    scope.postMessage(message);
  } catch (error) {
    reportFailure(
      new TypeError(
        `The value returned by the default export of ${module} cannot be sent to the main thread ` +
          `(${describeError(error).message}). Return structured-cloneable data.`,
      ),
    );
  }
}

function reportFailure(error: unknown) {
  if (failureReported) return;
  failureReported = true;
  scope.postMessage({ kind: "failed", error: describeError(error) } satisfies FromWorker);
}

// Ways a worker can end before its function returns. Each is reported so
// that spawn() does not wait for a result that will never come. Uncaught
// errors are handled here (the worker is terminated once its records are
// written), so they reach the caller once, as a WorkerError with the stack.
function reportEarlyExits(name: string) {
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    reportFailure(event.error ?? event.message);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    reportFailure(event.reason);
  });
  const close = scope.close;
  scope.close = () => {
    reportFailure(
      new Error(
        `${name} called self.close() before its function returned; ` +
          `return from the default export to end a spawned worker.`,
      ),
    );
    close.call(scope);
  };
}
