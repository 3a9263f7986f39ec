/**
 * spawn()'s options, checked once for workers and processes alike, into the
 * plan of one run. Every bad value fails here, before anything starts.
 *
 * @module
 */
import {
  checkBatchSize,
  checkBoolean,
  checkCloneable,
  checkRouting,
  checkSenderName,
  checkSignal,
  checkWholeNumber,
  toModuleUrl,
} from "../common/_options.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import { InvalidOptionError, ModuleNotFoundError } from "../errors.ts";
import { QueueListener } from "../listener/queue_listener.ts";
import { WriterListener } from "../listener/writer_listener.ts";
import { checkProcesses, type ProcessPlan } from "./_process_options.ts";
import type { SpawnOptions } from "./spawn.ts";

/** One run of spawn(), its options checked. */
export interface Plan {
  module: string;
  count: number;
  args: unknown;
  logging: LoggingOptions;
  name: string;
  preformat: boolean;
  onMessage: ((data: unknown, index: number) => void) | undefined;
  signal: AbortSignal | undefined;
  /** Set when the functions run in processes instead of workers. */
  processes: ProcessPlan | undefined;
}

/**
 * One run's sender names: `${name}-${index}`, or `${name}#k-${index}` for
 * the first k whose names `take` accepts (it says whether they are free,
 * and may reserve them).
 */
export function runNames(plan: Plan, take: (names: string[]) => boolean): string[] {
  for (let run = 1;; run++) {
    const prefix = run === 1 ? plan.name : `${plan.name}#${run}`;
    const names = Array.from({ length: plan.count }, (_, index) => `${prefix}-${index}`);
    if (take(names)) return names;
  }
}

/** Checks every option; throws an InvalidOptionError (or ModuleNotFoundError) naming the first bad one. */
export async function planRun<A>(module: string | URL, options: SpawnOptions<A>): Promise<Plan> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError(
      "options",
      options,
      "an object such as { count: 4, handlers: [...] }",
    );
  }
  const signal = checkSignal(options.signal);
  signal?.throwIfAborted();
  const count = checkWholeNumber("count", options.count);
  checkListenerOptions(options);
  if (options.onMessage !== undefined && typeof options.onMessage !== "function") {
    throw new InvalidOptionError("onMessage", options.onMessage, "a function (data, index) => {}");
  }
  const processes = options.processes === undefined ? undefined : checkForProcesses(options);
  const name = checkRunName(options.name ?? (processes ? "process" : "worker"), count);
  checkCloneable("args", options.args, processes ? "the processes" : "the workers");
  const plan: Plan = {
    module: await checkModule(module),
    count,
    args: options.args,
    logging: checkLogging(options),
    name,
    preformat: checkBoolean("preformat", options.preformat ?? false),
    onMessage: options.onMessage,
    signal,
    processes,
  };
  signal?.throwIfAborted();
  return plan;
}

// The name of a run's senders, `${name}-${index}`: each must be a sender
// name (see checkSenderName), checked here for the longest of them.
function checkRunName(name: unknown, count: number): string {
  if (typeof name !== "string" || name === "" || name.includes("#")) {
    throw new InvalidOptionError("name", name, 'a non-empty name without "#", e.g. "indexer"');
  }
  checkSenderName("name", `${name}-${count - 1}`);
  return name;
}

function checkListenerOptions<A>(options: SpawnOptions<A>) {
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
}

// What processes cannot do that workers can: say so before anything starts.
function checkForProcesses<A>(options: SpawnOptions<A>): ProcessPlan {
  const processes = checkProcesses(options.processes);
  if (options.writer !== undefined || options.listener instanceof WriterListener) {
    throw new InvalidOptionError(
      options.writer !== undefined ? "writer" : "listener",
      options.writer ?? options.listener,
      "handlers or a QueueListener with processes: a WriterListener cannot accept processes " +
        "yet (leave out processes to use it with workers)",
    );
  }
  if (options.onMessage !== undefined) {
    throw new InvalidOptionError(
      "onMessage",
      options.onMessage,
      "no onMessage with processes: a process has no Worker channel (return results from the " +
        "function, or leave out processes to use workers)",
    );
  }
  if (Deno.build.standalone) {
    throw new InvalidOptionError(
      "processes",
      options.processes,
      "workers (no processes option) in a program built with deno compile, which has no deno " +
        "to start processes with",
    );
  }
  return processes;
}

function checkLogging(options: LoggingOptions): LoggingOptions {
  const { level, loggers, routeUnlisted } = checkRouting(options);
  const logging: LoggingOptions = { loggers, routeUnlistedLoggers: routeUnlisted };
  if (level !== undefined) logging.level = level;
  // Checked here, before any worker or process starts, not in each of them.
  if (options.batchSize !== undefined) {
    logging.batchSize = checkBatchSize(options.batchSize);
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
