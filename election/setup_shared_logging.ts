import type { BaseHandler, FormatterFunction } from "@std/log";
import { randomHex } from "../common/_frames.ts";
import { checkLevel, checkWholeNumber } from "../common/_options.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import { InvalidOptionError } from "../errors.ts";
import {
  type ListenerStats,
  type ListenOptions,
  QueueListener,
  type QueueListenerOptions,
} from "../listener/queue_listener.ts";
import type { ProcessHandler, ProcessHandlerStats } from "../sender/process_handler.ts";
import { setupProcessLogging } from "../sender/setup_process_logging.ts";
import { Leadership } from "./_leadership.ts";
import { openSharedFiles } from "./_shared_directory.ts";
import { SharedInstance } from "./_shared_instance.ts";

/** How long a writer that is leaving waits for the other instances, unless `lingerMs` says otherwise. */
const DEFAULT_LINGER_MS = 2_000;
/** How long a leaving instance waits for its records to be written, unless `closeTimeoutMs` says otherwise. */
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

/**
 * Options of {@linkcode setupSharedLogging}.
 *
 * @example JSON Lines into one file, at INFO, exactly once across a writer that is killed
 * ```ts
 * import { jsonLinesFormatter, readResumePoints, type SharedLoggingOptions } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * const options: SharedLoggingOptions = {
 *   path: "/tmp/myapp-log/log.sock",
 *   handlers: () => [new FileHandler("INFO", { filename: "app.log", formatter: jsonLinesFormatter })],
 *   resume: () => readResumePoints("app.log"),
 *   level: "INFO",
 * };
 * ```
 */
export interface SharedLoggingOptions extends LoggingOptions {
  /**
   * The Unix socket the instances share, an absolute path of at most 107
   * bytes. Its directory must be one only this user can enter (it is
   * created with mode 0700 if missing); the lock file `<path>.lock` and the
   * token file `<path>.token` are kept beside it.
   */
  path: string;
  /**
   * Makes the handlers of the instance that writes: called when an instance
   * is elected, at start or when it takes over from one that ended. The
   * handlers must append to their files (FileHandler's default mode "a").
   */
  handlers: () => BaseHandler[];
  /**
   * The secret every instance presents, 16 to 512 characters. Default: one
   * the first instance writes into `<path>.token` (mode 0600), which the
   * others, and later runs, read.
   */
  token?: string;
  /**
   * This instance's name in records: unique among the instances and the
   * same for its whole life. Default: "process-PID-XXXXXXXX" (eight random hex
   * digits, since the instances of `deno serve --parallel` share one PID).
   */
  name?: string;
  /**
   * What the log already holds per sender, for an instance that takes over
   * from a writer that was killed: e.g. `() => readResumePoints("app.log")`
   * for a JSON Lines file. Records the killed writer wrote but had not
   * acknowledged are then not written twice. Called before the handlers
   * open the file.
   */
  resume?: () => ListenOptions["resume"] | Promise<ListenOptions["resume"]>;
  /** The writer's listener options (caps, overflow, onError); it never handles signals itself. */
  listenerOptions?: Omit<QueueListenerOptions, "handleSignals">;
  /**
   * Format records in each instance with this formatter and send finished
   * lines. Use it only with a formatter that is a pure function of the record.
   */
  formatter?: FormatterFunction;
  /** Bytes each instance keeps until the writer acknowledges them (see ProcessHandler). Default 16 MiB. */
  maxBufferBytes?: number;
  /**
   * How long a writer that is leaving waits while other instances are still
   * connected (they are usually delivering their last records), in ms.
   * After that it stops and another instance takes over. Default 2,000.
   */
  lingerMs?: number;
  /**
   * How long a leaving instance waits for the writer to acknowledge its
   * records, in ms; past it, it ends without them and says so on stderr.
   * Default 5,000.
   */
  closeTimeoutMs?: number;
  /** Called with true when this instance becomes the writer, with false when it has stopped writing. */
  onWriterChange?: (writing: boolean) => void;
}

/**
 * The counters of one instance of a shared log.
 *
 * @example
 * ```ts ignore
 * const { writer, elections, sender } = logging.stats();
 * console.log(writer, elections, sender.unacknowledgedRecords);
 * ```
 */
export interface SharedLoggingStats {
  /** This instance's name in records. */
  name: string;
  /** Whether it writes now. */
  writer: boolean;
  /** How often it became the writer. */
  elections: number;
  /** Why it last could not start writing after it was elected (a WriterStartError's message). */
  writerError: string | undefined;
  /** Its sender's counters: what it logged and what the writer acknowledged. */
  sender: ProcessHandlerStats;
  /** The listener's counters, while it writes. */
  listener?: ListenerStats;
}

/**
 * One instance of a log shared by instances that nobody wires up: what
 * {@linkcode setupSharedLogging} returns.
 *
 * @example Leave explicitly before `Deno.exit()` (which skips "beforeunload")
 * ```ts ignore
 * await logging.close();
 * Deno.exit(0);
 * ```
 */
export interface SharedLogging extends AsyncDisposable {
  /** The handler this instance's loggers send through. */
  readonly handler: ProcessHandler;
  /** The shared socket. */
  readonly path: string;
  /** This instance's name in records. */
  readonly name: string;
  /** Whether this instance writes now. */
  readonly isWriter: boolean;
  /** The counters. */
  stats(): SharedLoggingStats;
  /** Resolves once the writer has written everything this instance logged so far. */
  flush(): Promise<void>;
  /**
   * Leaves now, as the instance does by itself when its event loop runs
   * out of work: waits until its records are written, and if it writes,
   * hands over (see `lingerMs`). Records logged later are not sent.
   */
  close(): Promise<void>;
}

/**
 * Sets up one log file for instances that share no memory and that nobody
 * wires up, such as the isolates of `deno serve --parallel` or processes
 * started independently: every instance calls it with the same `path`.
 *
 * Every instance routes its @std/log loggers (the default one, those in
 * `loggers`, and every logger nobody listed) to a Unix socket at `path`.
 * One instance, elected by an exclusive lock on `<path>.lock`, also runs a
 * listener there with the `handlers` (its own records travel the same
 * socket). When the writer ends, another instance takes over, and every
 * instance sends again what the last writer had not acknowledged.
 *
 * Nothing here keeps a program alive or blocks a graceful shutdown: when an
 * instance's event loop runs out of work (after `deno serve` stops serving
 * it, or when a program's main module is done), it holds the loop open
 * until its records are written, then ends. Call `close()` before
 * `Deno.exit()`, which skips that.
 *
 * Permissions: `--allow-net=unix:<path>` and read and write access to the
 * socket's directory (socket, lock and token files) and to the log files.
 *
 * @example server.ts for `deno serve --parallel`
 * ```ts ignore
 * import { jsonLinesFormatter, setupSharedLogging } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 * import * as log from "@std/log";
 *
 * setupSharedLogging({
 *   path: "/tmp/myapp-log/log.sock",
 *   handlers: () => [new FileHandler("INFO", { filename: "app.log", formatter: jsonLinesFormatter })],
 *   level: "INFO",
 * });
 *
 * export default {
 *   fetch(request: Request) {
 *     log.info("request", { url: request.url });
 *     return new Response("ok");
 *   },
 * } satisfies Deno.ServeDefaultExport;
 * ```
 */
export function setupSharedLogging(options: SharedLoggingOptions): SharedLogging {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError("options", options, "an object with path and handlers");
  }
  if (typeof options.handlers !== "function") {
    throw new InvalidOptionError(
      "handlers",
      options.handlers,
      'a function that returns the writer\'s handlers, e.g. () => [new FileHandler("INFO", ' +
        '{ filename: "app.log" })]: it is called in whichever instance is elected to write',
    );
  }
  if (options.resume !== undefined && typeof options.resume !== "function") {
    throw new InvalidOptionError(
      "resume",
      options.resume,
      'a function, e.g. () => readResumePoints("app.log")',
    );
  }
  if (options.onWriterChange !== undefined && typeof options.onWriterChange !== "function") {
    throw new InvalidOptionError(
      "onWriterChange",
      options.onWriterChange,
      "a function (writing: boolean) => void",
    );
  }
  const listenerOptions = options.listenerOptions ?? {};
  // Checked now, by the constructor that checks them (it starts nothing),
  // rather than in whichever instance is elected, where every election
  // would fail and nothing would ever be written.
  new QueueListener([], { ...listenerOptions, handleSignals: false });
  // Before any file is made (setupProcessLogging would check it after).
  const level = checkLevel("level", options.level ?? "NOTSET");
  const lingerMs = checkWholeNumber("lingerMs", options.lingerMs ?? DEFAULT_LINGER_MS, 0);
  const closeTimeoutMs = checkWholeNumber(
    "closeTimeoutMs",
    options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
  );
  const files = openSharedFiles(options.path, options.token);
  const leadership = new Leadership(files.lockPath);
  let handler: ProcessHandler;
  try {
    handler = setupProcessLogging({
      address: `unix:${files.path}`,
      token: files.token,
      name: options.name ?? `process-${Deno.pid}-${randomHex(4)}`,
      level,
      ...pick(options, [
        "loggers",
        "routeUnlistedLoggers",
        "batchSize",
        "formatter",
        "maxBufferBytes",
      ]),
    });
  } catch (error) {
    leadership.close();
    throw error;
  }
  return new SharedInstance(handler, leadership, {
    writer: {
      path: files.path,
      token: files.token,
      handlers: options.handlers,
      ...(options.resume ? { resume: options.resume } : {}),
      listenerOptions,
    },
    lingerMs,
    closeTimeoutMs,
    ...(options.onWriterChange ? { onWriterChange: options.onWriterChange } : {}),
  });
}

function pick<T extends object, K extends keyof T>(object: T, keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) picked[key] = object[key];
  return picked;
}
