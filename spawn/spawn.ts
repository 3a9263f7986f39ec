import type { BaseHandler } from "@std/log";
import type { LoggingOptions } from "../common/logging_options.ts";
import { InvalidOptionError } from "../errors.ts";
import { QueueListener } from "../listener/queue_listener.ts";
import type { SenderHub } from "../listener/_sender_hub.ts";
import { WriterListener, type WriterListenerOptions } from "../listener/writer_listener.ts";
import { planRun } from "./_plan.ts";
import type { SpawnProcessOptions } from "./_process_options.ts";
import { runProcesses } from "./_process_start.ts";
import { Mailbox, runWorkers } from "./_worker_start.ts";
// Imported for their place in the module graph only (deno cache, deno
// compile): see the modules' docs.
import "./_bootstrap.ts";
import "./_process_bootstrap.ts";

export type { SpawnProcessOptions };

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
  /** This worker's name in records, e.g. "worker-2". */
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
export interface SpawnOptions<A = unknown> extends LoggingOptions {
  /** How many workers (or processes) to start: a whole number of at least 1. */
  count: number;
  /** Passed to every worker's (or process's) function as `args` (structured-cloned). */
  args?: A;
  /**
   * Handlers for a listener spawn() makes, starts and stops. Give exactly
   * one of `handlers`, `writer` and `listener`.
   */
  handlers?: BaseHandler[];
  /**
   * The URL of a handlers module for a {@linkcode WriterListener} spawn()
   * makes, starts and stops: the writing then runs in a writer worker of its
   * own, and the main thread spends no CPU per record.
   */
  writer?: string | URL;
  /**
   * Options of the listener made from `handlers` or `writer` (`args` only
   * with `writer`: it is passed to the handlers module).
   */
  listenerOptions?: WriterListenerOptions;
  /**
   * A started listener to send to: a {@linkcode QueueListener} or a
   * {@linkcode WriterListener}. spawn() connects and detaches, never stops
   * it. Several runs may share one listener at the same time.
   */
  listener?: QueueListener | WriterListener;
  /**
   * The workers' names are `${name}-${index}`. Default "worker" ("process"
   * with `processes`). When a run on the same listener already uses those
   * names, this run's are `${name}#2-${index}` (or #3, ...), so records
   * always say which run logged them. A name comes back to a later run once
   * the process that had it is gone.
   */
  name?: string;
  /**
   * Format records in the workers and send finished lines (see README,
   * "Formatting in the workers"). The formatter is the worker module's
   * `formatter` export, or `textFormatter` when it has none. Records logged
   * while the module loads wait for it, up to the listener's `maxInFlight`
   * or `maxInFlightBytes`; past that, or when the worker ends first, they go
   * formatted with `textFormatter`. Default: false.
   */
  preformat?: boolean;
  /**
   * Receives what the workers post with `self.postMessage()`: the Worker's
   * own channel belongs to the application. Without it such messages are
   * ignored, with one warning per run.
   */
  onMessage?: (data: unknown, index: number) => void;
  /**
   * Aborting it aborts each worker's (or process's) `signal`. A worker that
   * has not returned 500 ms later is terminated; a process gets SIGTERM after
   * 200 ms, and SIGKILL 1 s after that. What they sent is written, then
   * spawn() rejects.
   */
  signal?: AbortSignal;
  /**
   * Run the functions in `count` Deno processes instead of workers: each
   * has its own heap and crashes alone. The processes get exactly the
   * permissions listed (`{ permissions: [] }` for none) and log over the
   * listener's socket; names default to "process-N". Not with `writer`, a
   * WriterListener, `onMessage` or `SpawnRun.postMessage()`. See README,
   * "Processes instead of workers".
   */
  processes?: SpawnProcessOptions;
}

/**
 * What {@linkcode spawn} returns: the promise of the workers' results, which
 * can also send messages to the running workers.
 *
 * @example Tell worker 0 to go on
 * ```ts ignore
 * import { spawn } from "@workerlog/workerlog";
 *
 * const run = spawn(new URL("./worker.ts", import.meta.url), { count: 2, handlers: [] });
 * run.postMessage(0, { go: true }); // arrives at the worker's self.onmessage
 * const results = await run;
 * ```
 */
export interface SpawnRun<R> extends Promise<R[]> {
  /**
   * Posts `message` to worker `index`'s global scope (`self.onmessage`),
   * once its module has loaded. Ignored once that worker has ended.
   */
  postMessage(index: number, message: unknown, transfer?: Transferable[]): void;
}

/**
 * Starts `count` module workers that all log to one listener, runs the
 * default export of `module` in each with a {@linkcode WorkerContext}, and
 * resolves with their return values in index order once every worker has
 * finished and every record it sent has been written: PyTorch's
 * `torch.multiprocessing.spawn(fn, args, nprocs)` for Deno.
 *
 * If a worker throws, dies of an uncaught error, calls `self.close()` or
 * `Deno.exit()` with a code other than 0, or cannot load its module, the
 * others are aborted and terminated and spawn() rejects with a
 * {@linkcode WorkerError} naming it, after writing everything it sent. A
 * worker that calls `Deno.exit(0)` has finished: its result is `undefined`.
 * Bad options fail before any worker starts: a missing module
 * ({@linkcode ModuleNotFoundError}), an unwritable log file
 * (`HandlerSetupError`), an unknown level or a bad count
 * ({@linkcode InvalidOptionError}).
 *
 * `module` is a URL; a relative path is taken from the current directory.
 *
 * With `processes`, each function runs in a Deno process of its own
 * instead (`deno run` with the permissions given there and the deno.json of
 * the current directory), under the same rules: results in index order, a
 * failure or crash rejects with a {@linkcode WorkerError} naming the
 * process, an abort ends them all, and nothing outlives the call.
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
 *
 * @example main.ts: the same module in four processes, each allowed to read ./data
 * ```ts ignore
 * import { jsonLinesFormatter, spawn } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * const results = await spawn<number>(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new FileHandler("INFO", { filename: "out.log", formatter: jsonLinesFormatter })],
 *   processes: { permissions: ["--allow-read=./data"] },
 * });
 * ```
 */
export function spawn<R = unknown, A = unknown>(
  module: string | URL,
  options: SpawnOptions<A>,
): SpawnRun<R> {
  const mailboxes: Mailbox[] = [];
  const run = runAll<R, A>(module, options, mailboxes) as SpawnRun<R>;
  const processes = typeof options === "object" && options?.processes !== undefined;
  // Messages may be posted before the run has checked its options and
  // started the workers: each index gets its mailbox on first use.
  run.postMessage = (index, message, transfer = []) => {
    if (processes) {
      throw new InvalidOptionError(
        "processes",
        options.processes,
        "workers (no processes option) to post messages to them: a process has no Worker " +
          "channel; pass what it needs in args",
      );
    }
    (mailboxes[index] ??= new Mailbox()).post(message, transfer);
  };
  return run;
}

async function runAll<R, A>(
  module: string | URL,
  options: SpawnOptions<A>,
  mailboxes: Mailbox[],
): Promise<R[]> {
  const plan = await planRun(module, options);
  const listener = options.listener ?? await startListener(options);
  const owned = options.listener === undefined;
  try {
    return plan.processes
      ? await runProcesses<R>(listener as QueueListener, plan)
      : await runWorkers<R>(listener, plan, mailboxes);
  } finally {
    if (owned) await listener[Symbol.asyncDispose]();
  }
}

// The listener spawn() owns: QueueListener.start() sets the handlers up at
// once; a WriterListener's start() waits for its writer to have done so.
async function startListener<A>(options: SpawnOptions<A>): Promise<SenderHub & AsyncDisposable> {
  if (options.writer !== undefined) {
    return await new WriterListener(options.writer, options.listenerOptions).start();
  }
  if (options.listenerOptions?.args !== undefined) {
    throw new InvalidOptionError(
      "listenerOptions.args",
      options.listenerOptions.args,
      "no args: they are for a writer's handlers module (the writer option)",
    );
  }
  return new QueueListener(options.handlers!, options.listenerOptions).start();
}
