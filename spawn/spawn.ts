import type { BaseHandler, LevelName, LoggerConfig } from "@std/log";
import {
  describeError,
  type ErrorDescription,
  InvalidOptionError,
  ModuleNotFoundError,
  WorkerError,
} from "../errors.ts";
import { QueueListener, type QueueListenerOptions } from "../listener/queue_listener.ts";
import type { FromWorker, StartMessage, ToWorker } from "./_control.ts";
import { checkLevel, checkLoggers } from "../common/_options.ts";

const BOOTSTRAP = new URL("./_bootstrap.ts", import.meta.url);

// After an abort, how long workers get to return on their own before they
// are terminated.
const ABORT_GRACE_MS = 100;

/**
 * What the default export of a worker module is called with.
 *
 * @example worker.ts
 * ```ts ignore
 * import * as log from "@std/log";
 * import type { WorkerContext } from "@workerlog/workerlog";
 *
 * export default async function ({ index, count, args, signal }: WorkerContext<{ urls: string[] }>) {
 *   const mine = args.urls.filter((_, i) => i % count === index);
 *   for (const url of mine) {
 *     if (signal.aborted) break;
 *     log.info(`fetching ${url}`);
 *   }
 *   return mine.length;
 * }
 * ```
 */
export interface WorkerContext<A = unknown> {
  /** This worker's index, from 0 to `count - 1`. */
  index: number;
  /** How many workers were spawned. */
  count: number;
  /** This worker's name in records, "worker-<index>". */
  name: string;
  /** The `args` given to spawn(), structured-cloned. */
  args: A;
  /** Aborted when spawn()'s signal aborts or another worker fails. */
  signal: AbortSignal;
}

/**
 * Options of {@linkcode spawn}.
 *
 * @example
 * ```ts
 * import type { SpawnOptions } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * const options: SpawnOptions<{ shards: number }> = {
 *   count: 4,
 *   args: { shards: 16 },
 *   handlers: [new FileHandler("INFO", { filename: "app.log" })],
 *   loggers: { db: { level: "DEBUG" } },
 *   signal: AbortSignal.timeout(60_000),
 * };
 * ```
 */
export interface SpawnOptions<A = unknown> {
  /** How many workers to start: a whole number of at least 1. */
  count: number;
  /** Passed to every worker's function as `args` (structured-cloned). */
  args?: A;
  /**
   * Handlers for a listener spawn() makes, starts and stops. Give either
   * these or `listener`.
   */
  handlers?: BaseHandler[];
  /** Options of the listener made from `handlers`. */
  listenerOptions?: QueueListenerOptions;
  /** A started listener to send to; spawn() attaches and detaches, never stops it. */
  listener?: QueueListener;
  /**
   * Level of each worker's default logger and of named loggers without
   * their own. Default: the lowest level among the listener's handlers.
   */
  level?: LevelName;
  /**
   * Named loggers to route to the listener, e.g. `{ db: { level: "DEBUG" } }`.
   * @std/log has no hierarchy: a name not listed here gets a logger with no
   * handlers, and its records vanish.
   */
  loggers?: Record<string, Pick<LoggerConfig, "level">>;
  /**
   * Format records in the workers and send finished lines (see README,
   * "Formatting in the workers"). The formatter is the worker module's
   * `formatter` export, or `textFormatter` when it has none. Default: false.
   */
  preformat?: boolean;
  /** Records per batch. Default: 512. */
  batchSize?: number;
  /** Aborting it terminates the workers, writes what they sent, and rejects. */
  signal?: AbortSignal;
}

/**
 * Starts `count` module workers that all log to one listener, runs the
 * default export of `module` in each with a {@linkcode WorkerContext}, and
 * resolves with their return values in index order once every worker has
 * finished and every record it sent has been written: Python's
 * `mp.spawn(fn, args, nprocs)` for Deno.
 *
 * If a worker throws, dies of an uncaught error, or cannot load its module,
 * the others are aborted and terminated and spawn() rejects with a
 * {@linkcode WorkerError} naming it, after writing everything it sent. Bad
 * options fail before any worker starts: a missing module
 * ({@linkcode ModuleNotFoundError}), an unwritable log file
 * (`HandlerSetupError`), an unknown level or a bad count
 * ({@linkcode InvalidOptionError}).
 *
 * `module` is a URL; a relative path is taken from the current directory.
 *
 * @example main.ts: four workers, one file
 * ```ts ignore
 * import { spawn, textFormatter } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * const results = await spawn<number>(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new FileHandler("INFO", { filename: "out.log", formatter: textFormatter })],
 *   loggers: { db: { level: "DEBUG" } },
 * });
 * ```
 *
 * @example worker.ts
 * ```ts ignore
 * import * as log from "@std/log";
 * import type { WorkerContext } from "@workerlog/workerlog";
 *
 * export default function ({ index }: WorkerContext): number {
 *   log.info(`worker ${index} says hello`);
 *   return index;
 * }
 * ```
 */
export async function spawn<R = unknown, A = unknown>(
  module: string | URL,
  options: SpawnOptions<A>,
): Promise<R[]> {
  const plan = await planRun(module, options);
  const listener = options.listener ??
    new QueueListener(options.handlers!, options.listenerOptions);
  const owned = options.listener === undefined;
  if (owned) listener.start();
  try {
    return await runWorkers<R>(listener, plan);
  } finally {
    if (owned) await listener.stop();
  }
}

interface Plan {
  module: string;
  count: number;
  args: unknown;
  level: LevelName | undefined;
  loggers: Record<string, Pick<LoggerConfig, "level">>;
  preformat: boolean;
  batchSize: number | undefined;
  signal: AbortSignal | undefined;
}

async function planRun<A>(module: string | URL, options: SpawnOptions<A>): Promise<Plan> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError(
      "options",
      options,
      "an object such as { count: 4, handlers: [...] }",
    );
  }
  const { count } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new InvalidOptionError("count", count, "a whole number of at least 1, e.g. { count: 4 }");
  }
  if ((options.handlers === undefined) === (options.listener === undefined)) {
    throw new InvalidOptionError(
      "handlers/listener",
      { handlers: options.handlers, listener: options.listener },
      "exactly one of them: handlers for a listener spawn() owns, or a started listener",
    );
  }
  if (options.listener !== undefined && !(options.listener instanceof QueueListener)) {
    throw new InvalidOptionError("listener", options.listener, "a QueueListener");
  }
  if (options.level !== undefined) checkLevel("level", options.level);
  const loggers = checkLoggers(options.loggers ?? {});
  if (
    options.batchSize !== undefined &&
    (!Number.isInteger(options.batchSize) || options.batchSize < 1)
  ) {
    throw new InvalidOptionError("batchSize", options.batchSize, "a whole number of at least 1");
  }
  checkCloneable(options.args);
  options.signal?.throwIfAborted();
  return {
    module: await checkModule(module),
    count,
    args: options.args,
    level: options.level,
    loggers,
    preformat: options.preformat ?? false,
    batchSize: options.batchSize,
    signal: options.signal,
  };
}

function checkCloneable(args: unknown) {
  try {
    structuredClone(args);
  } catch (error) {
    throw new InvalidOptionError(
      "args",
      args,
      `a value structured clone can copy to the workers (${describeError(error).message}); ` +
        `pass plain data, not functions or class instances with methods`,
    );
  }
}

async function checkModule(module: string | URL): Promise<string> {
  const url = toModuleUrl(module);
  if (url.protocol !== "file:") return url.href;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModuleNotFoundError(url.href, { cause: error });
    }
    throw error;
  }
  if (!info.isFile) {
    throw new InvalidOptionError("module", url.href, "a module file, not a directory");
  }
  return url.href;
}

function toModuleUrl(module: string | URL): URL {
  if (module instanceof URL) return module;
  if (typeof module !== "string" || module === "") {
    throw new InvalidOptionError(
      "module",
      module,
      `a module URL, e.g. new URL("./worker.ts", import.meta.url)`,
    );
  }
  if (URL.canParse(module) && !/^[a-zA-Z]:[\\/]/.test(module)) return new URL(module);
  const cwd = Deno.cwd().replaceAll("\\", "/");
  const base = new URL(`file://${cwd.startsWith("/") ? "" : "/"}${encodeURI(cwd)}/`);
  return new URL(encodeURI(module.replaceAll("\\", "/")), base);
}

type Outcome =
  | { kind: "done"; value: unknown }
  | { kind: "failed"; error: ErrorDescription; fromWorker: boolean }
  | { kind: "aborted" };

interface RunningWorker {
  readonly name: string;
  /** Settles after the worker has ended and everything it sent is written. */
  readonly finished: Promise<Outcome>;
  /** Aborts its signal; terminates it if it has not ended within the grace. */
  abort(reason: unknown): void;
}

async function runWorkers<R>(listener: QueueListener, plan: Plan): Promise<R[]> {
  const failed: number[] = [];
  const workers: RunningWorker[] = [];
  const abortAll = (reason: unknown) => workers.forEach((worker) => worker.abort(reason));
  const onFailure = (index: number, error: WorkerError) => {
    failed.push(index);
    abortAll(error);
  };
  const onAbort = () => abortAll(plan.signal?.reason);
  try {
    for (let index = 0; index < plan.count; index++) {
      workers.push(startWorker(listener, plan, index, onFailure));
    }
  } catch (error) {
    // Starting one failed (e.g. no permission to read the bootstrap): the
    // ones already running must not be left behind.
    abortAll(error);
    await Promise.allSettled(workers.map((worker) => worker.finished));
    throw error;
  }
  plan.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const outcomes = await Promise.all(workers.map((worker) => worker.finished));
    plan.signal?.throwIfAborted();
    if (failed.length > 0) {
      const first = failed[0];
      const outcome = outcomes[first] as Extract<Outcome, { kind: "failed" }>;
      throw new WorkerError(first, workers[first].name, outcome.error);
    }
    return outcomes.map((outcome) => (outcome as { value: R }).value);
  } finally {
    plan.signal?.removeEventListener("abort", onAbort);
  }
}

function startWorker(
  listener: QueueListener,
  plan: Plan,
  index: number,
  onFailure: (index: number, error: WorkerError) => void,
): RunningWorker {
  const name = `worker-${index}`;
  const connection = listener.connect({ name, index });
  let worker: Worker;
  try {
    worker = new Worker(BOOTSTRAP, { type: "module", name });
  } catch (error) {
    listener.detach(name);
    throw error;
  }
  const ended = Promise.withResolvers<void>();
  let outcome: Outcome | undefined;

  const settle = (next: Outcome) => {
    // The worker's own report of a failure has its stack: it may replace an
    // error event's summary that arrived first, but nothing else changes.
    const upgrade = outcome?.kind === "failed" && !outcome.fromWorker &&
      next.kind === "failed" && next.fromWorker;
    if (outcome !== undefined && !upgrade) return;
    outcome = next;
    if (next.kind === "failed" && !upgrade) {
      onFailure(index, new WorkerError(index, name, next.error));
    }
    ended.resolve();
  };

  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.kind === "done") settle({ kind: "done", value: message.value });
    else settle({ kind: "failed", error: message.error, fromWorker: true });
  };
  worker.onerror = (event) => {
    event.preventDefault();
    settle({
      kind: "failed",
      error: {
        name: "Error",
        message: event.message,
        stack: `    at ${event.filename}:${event.lineno}`,
      },
      fromWorker: false,
    });
  };
  worker.onmessageerror = () =>
    settle({
      kind: "failed",
      error: { name: "DataCloneError", message: "a message from the worker could not be read" },
      fromWorker: false,
    });

  const start: StartMessage = {
    kind: "start",
    module: plan.module,
    index,
    count: plan.count,
    name,
    args: plan.args,
    connection,
    level: plan.level ?? listener.lowestLevel,
    loggers: plan.loggers,
    preformat: plan.preformat,
    batchSize: plan.batchSize,
  };
  worker.postMessage(start, [connection.port as MessagePort]);

  const finished = ended.promise.then(async () => {
    worker.terminate();
    await listener.detach(name);
    // Read only now: while the records were written, the worker's own report
    // of a failure, with its stack, has had time to replace an error event's.
    return outcome!;
  });

  return {
    name,
    finished,
    abort(reason) {
      if (outcome !== undefined) return;
      try {
        worker.postMessage({ kind: "abort", reason: describeError(reason) } satisfies ToWorker);
      } catch {
        // The worker is gone already; terminating it below is all there is to do.
      }
      setTimeout(() => settle({ kind: "aborted" }), ABORT_GRACE_MS);
    },
  };
}
