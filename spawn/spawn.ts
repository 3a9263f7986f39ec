import type { BaseHandler } from "@std/log";
import {
  checkBoolean,
  checkCloneable,
  checkLevel,
  checkLoggers,
  checkWholeNumber,
  toModuleUrl,
} from "../common/_options.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import type { QueueConnection } from "../common/_wire.ts";
import {
  describeError,
  type ErrorDescription,
  InvalidOptionError,
  ModuleNotFoundError,
  WorkerError,
} from "../errors.ts";
import { QueueListener } from "../listener/queue_listener.ts";
import type { SenderHub } from "../listener/_sender_hub.ts";
import { WriterListener, type WriterListenerOptions } from "../listener/writer_listener.ts";
import {
  type Ending,
  type FromWorker,
  START_KEY,
  type StartMessage,
  type ToWorker,
} from "./_control.ts";
// Imported for its place in the module graph only: see the module's doc.
import "./_bootstrap.ts";

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
  /** How many workers to start: a whole number of at least 1. */
  count: number;
  /** Passed to every worker's function as `args` (structured-cloned). */
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
   * The workers' names are `${name}-${index}`. Default "worker". When a run
   * on the same listener already uses those names, this run's are
   * `${name}#2-${index}` (or #3, ...), so records always say which run
   * logged them.
   */
  name?: string;
  /**
   * Format records in the workers and send finished lines (see README,
   * "Formatting in the workers"). The formatter is the worker module's
   * `formatter` export, or `textFormatter` when it has none. Default: false.
   */
  preformat?: boolean;
  /**
   * Receives what the workers post with `self.postMessage()`: the Worker's
   * own channel belongs to the application. Without it such messages are
   * ignored, with one warning per run.
   */
  onMessage?: (data: unknown, index: number) => void;
  /** Aborting it terminates the workers, writes what they sent, and rejects. */
  signal?: AbortSignal;
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
export function spawn<R = unknown, A = unknown>(
  module: string | URL,
  options: SpawnOptions<A>,
): SpawnRun<R> {
  const mailboxes: Mailbox[] = [];
  const run = runAll<R, A>(module, options, mailboxes) as SpawnRun<R>;
  // Messages may be posted before the run has checked its options and
  // started the workers: each index gets its mailbox on first use.
  run.postMessage = (index, message, transfer = []) =>
    (mailboxes[index] ??= new Mailbox()).post(message, transfer);
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
    return await runWorkers<R>(listener, plan, mailboxes);
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

interface Plan {
  module: string;
  count: number;
  args: unknown;
  logging: LoggingOptions;
  name: string;
  preformat: boolean;
  onMessage: ((data: unknown, index: number) => void) | undefined;
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
  options.signal?.throwIfAborted();
  const count = checkWholeNumber("count", options.count);
  const given = [options.handlers, options.writer, options.listener]
    .filter((option) => option !== undefined).length;
  if (given !== 1) {
    throw new InvalidOptionError(
      "handlers/writer/listener",
      { handlers: options.handlers, writer: options.writer, listener: options.listener },
      "exactly one of them: handlers for a listener spawn() owns, the URL of a handlers " +
        "module for a writer worker spawn() owns, or a started listener",
    );
  }
  const listener = options.listener;
  if (
    listener !== undefined &&
    !(listener instanceof QueueListener) && !(listener instanceof WriterListener)
  ) {
    throw new InvalidOptionError("listener", listener, "a QueueListener or a WriterListener");
  }
  if (options.onMessage !== undefined && typeof options.onMessage !== "function") {
    throw new InvalidOptionError("onMessage", options.onMessage, "a function (data, index) => {}");
  }
  const name = options.name ?? "worker";
  if (typeof name !== "string" || name === "" || name.includes("#")) {
    throw new InvalidOptionError("name", name, 'a non-empty name without "#", e.g. "indexer"');
  }
  checkCloneable("args", options.args, "the workers");
  const plan: Plan = {
    module: await checkModule(module),
    count,
    args: options.args,
    logging: checkLogging(options),
    name,
    preformat: checkBoolean("preformat", options.preformat ?? false),
    onMessage: options.onMessage,
    signal: options.signal,
  };
  options.signal?.throwIfAborted();
  return plan;
}

function checkLogging(options: LoggingOptions): LoggingOptions {
  const logging: LoggingOptions = { loggers: checkLoggers(options.loggers ?? {}) };
  if (options.level !== undefined) logging.level = checkLevel("level", options.level);
  if (options.batchSize !== undefined) {
    logging.batchSize = checkWholeNumber("batchSize", options.batchSize);
  }
  if (options.routeUnlistedLoggers !== undefined) {
    logging.routeUnlistedLoggers = checkBoolean(
      "routeUnlistedLoggers",
      options.routeUnlistedLoggers,
    );
  }
  return logging;
}

async function checkModule(module: string | URL): Promise<string> {
  const url = toModuleUrl("module", module, `new URL("./worker.ts", import.meta.url)`);
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

/** The names of one run's workers: `${name}-${index}`, or `${name}#k-${index}` when taken. */
function workerNames(listener: SenderHub, plan: Plan): string[] {
  for (let run = 1;; run++) {
    const prefix = run === 1 ? plan.name : `${plan.name}#${run}`;
    const names = Array.from({ length: plan.count }, (_, index) => `${prefix}-${index}`);
    if (names.every((name) => listener.isNameFree(name))) return names;
  }
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

/**
 * Messages from the main thread to one worker's global scope, held until
 * its module has loaded (so its `onmessage` is set) and dropped once it has
 * ended.
 */
class Mailbox {
  #worker: Worker | undefined;
  #held: [unknown, Transferable[]][] | undefined = [];

  post(message: unknown, transfer: Transferable[]) {
    if (this.#held) this.#held.push([message, transfer]);
    else this.#worker?.postMessage(message, transfer);
  }

  open(worker: Worker) {
    this.#worker = worker;
    for (const [message, transfer] of this.#held ?? []) worker.postMessage(message, transfer);
    this.#held = undefined;
  }

  close() {
    this.#worker = undefined;
    this.#held = undefined;
  }
}

async function runWorkers<R>(
  listener: SenderHub,
  plan: Plan,
  mailboxes: Mailbox[],
): Promise<R[]> {
  const failed: number[] = [];
  const workers: RunningWorker[] = [];
  const abortAll = (reason: unknown) => workers.forEach((worker) => worker.abort(reason));
  const onFailure = (index: number, error: WorkerError) => {
    failed.push(index);
    abortAll(error);
  };
  const onAbort = () => abortAll(plan.signal?.reason);
  const names = workerNames(listener, plan);
  const onMessage = plan.onMessage ?? warnOnce(names[0]);
  try {
    for (let index = 0; index < plan.count; index++) {
      const mailbox = mailboxes[index] ??= new Mailbox();
      workers.push(startWorker(listener, plan, index, names[index], onFailure, onMessage, mailbox));
    }
  } catch (error) {
    // Starting one failed (e.g. no permission to read the bootstrap): the
    // ones already running must not be left behind.
    abortAll(error);
    await Promise.allSettled(workers.map((worker) => worker.finished));
    throw error;
  }
  plan.signal?.addEventListener("abort", onAbort, { once: true });
  // A listener added to a signal that is already aborted never fires.
  if (plan.signal?.aborted) onAbort();
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

function warnOnce(firstName: string): (data: unknown, index: number) => void {
  let warned = false;
  return (_data, index) => {
    if (warned) return;
    warned = true;
    console.warn(
      `workerlog: a spawned worker (index ${index}, of the run starting with ${firstName}) ` +
        `posted a message with self.postMessage(), and spawn() has no onMessage option; it was ` +
        `ignored (and so will be the rest of this run's). Pass onMessage: (data, index) => ... ` +
        `to receive them.`,
    );
  };
}

// How long an ending waits for application messages that do not come.
const APP_MESSAGES_STALL_MS = 5_000;

function outcomeOf(ending: Ending, name: string): Outcome {
  switch (ending.kind) {
    case "done":
      return { kind: "done", value: ending.value };
    case "failed":
      return { kind: "failed", error: ending.error, fromWorker: true };
    case "exited":
      return ending.code === 0 ? { kind: "done", value: undefined } : {
        kind: "failed",
        error: {
          name: "Error",
          message: `${name} called Deno.exit(${ending.code}) before its function returned`,
        },
        fromWorker: true,
      };
  }
}

function startWorker(
  listener: SenderHub,
  plan: Plan,
  index: number,
  name: string,
  onFailure: (index: number, error: WorkerError) => void,
  onMessage: (data: unknown, index: number) => void,
  mailbox: Mailbox,
): RunningWorker {
  // A WriterListener's connection comes from its writer: the worker loads
  // its modules meanwhile, and gets the start message once it has come.
  const connecting = listener.connect({ name, index });
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

  // The worker's own channel and the control port are not ordered with each
  // other: an ending waits until every application message the worker says
  // it posted before it has arrived (or until they stall).
  let appMessages = 0;
  let ending: { outcome: Outcome; appMessages: number } | undefined;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const settleEnding = () => {
    if (ending === undefined || appMessages < ending.appMessages) return;
    clearTimeout(stall);
    settle(ending.outcome);
  };
  const control = new MessageChannel();
  control.port1.onmessage = (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.kind === "ready") return mailbox.open(worker);
    // Already ended (an error event came first): this report only adds the stack.
    if (outcome !== undefined) return settle(outcomeOf(message, name));
    ending = { outcome: outcomeOf(message, name), appMessages: message.appMessages };
    stall = setTimeout(() => settle(ending!.outcome), APP_MESSAGES_STALL_MS);
    settleEnding();
  };
  worker.onmessage = (event) => {
    appMessages++;
    onMessage(event.data, index);
    settleEnding();
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

  const sendStart = (connection: QueueConnection) => {
    const start: StartMessage = {
      module: plan.module,
      index,
      count: plan.count,
      name,
      args: plan.args,
      connection,
      logging: plan.logging,
      preformat: plan.preformat,
      control: control.port2,
    };
    worker.postMessage({ [START_KEY]: start }, [connection.port as MessagePort, control.port2]);
  };
  if (connecting instanceof Promise) {
    connecting.then(
      sendStart,
      (error) => settle({ kind: "failed", error: describeError(error), fromWorker: false }),
    );
  } else {
    sendStart(connecting);
  }

  const finished = ended.promise.then(async () => {
    clearTimeout(stall);
    mailbox.close();
    worker.terminate();
    await listener.detach(name);
    control.port1.close();
    // Read only now: while the records were written, the worker's own report
    // of a failure, with its stack, has had time to replace an error event's.
    return outcome!;
  });

  return {
    name,
    finished,
    abort(reason) {
      if (outcome !== undefined) return;
      const message: ToWorker = { kind: "abort", reason: describeError(reason) };
      control.port1.postMessage(message);
      setTimeout(() => settle({ kind: "aborted" }), ABORT_GRACE_MS);
    },
  };
}
