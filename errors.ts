/**
 * The errors workerlog throws or reports. Each message names what was wrong
 * and what to do about it.
 *
 * @module
 */

/**
 * The base class of every workerlog error.
 *
 * @example Tell workerlog's errors from others
 * ```ts
 * import { InvalidOptionError, WorkerlogError } from "@workerlog/workerlog";
 *
 * const error: Error = new InvalidOptionError("count", 0, "a whole number of at least 1");
 * console.log(error instanceof WorkerlogError); // true
 * ```
 */
export class WorkerlogError extends Error {
  /** Builds an error with this class's name. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An option has a value workerlog cannot use. Thrown before anything starts.
 *
 * @example
 * ```ts
 * import { InvalidOptionError } from "@workerlog/workerlog";
 *
 * const error = new InvalidOptionError("count", 0, "a whole number of at least 1");
 * console.log(error.message);
 * // Invalid option count: 0. Expected a whole number of at least 1.
 * ```
 */
export class InvalidOptionError extends WorkerlogError {
  /** The option's name, e.g. "count" or "loggers.app.level". */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;

  /** Builds the error from the option, the value given and what was expected. */
  constructor(option: string, value: unknown, expected: string, options?: ErrorOptions) {
    super(`Invalid option ${option}: ${show(value)}. Expected ${expected}.`, options);
    this.option = option;
    this.value = value;
  }
}

/**
 * The worker module passed to `spawn()` does not exist. Thrown before any
 * worker starts.
 *
 * @example
 * ```ts
 * import { ModuleNotFoundError } from "@workerlog/workerlog";
 *
 * const error = new ModuleNotFoundError("file:///app/missing.ts");
 * console.log(error.url); // file:///app/missing.ts
 * ```
 */
export class ModuleNotFoundError extends WorkerlogError {
  /** The module URL that was not found. */
  readonly url: string;

  /** Builds the error for the URL that was not found. */
  constructor(url: string, options?: ErrorOptions) {
    super(
      `Worker module not found: ${url}. Pass the URL of an existing module, ` +
        `e.g. new URL("./worker.ts", import.meta.url).`,
      options,
    );
    this.url = url;
  }
}

/**
 * A handler's `setup()` failed when the listener started, e.g. a log file in
 * a directory that cannot be created or written. The handlers set up before
 * it have been destroyed again.
 *
 * @example
 * ```ts
 * import { HandlerSetupError } from "@workerlog/workerlog";
 *
 * const error = new HandlerSetupError("FileHandler (logs/out.log)", new Error("denied"));
 * console.log(error.message.startsWith("Could not set up FileHandler")); // true
 * ```
 */
export class HandlerSetupError extends WorkerlogError {
  /** Builds the error for the handler (described) and what its setup threw. */
  constructor(handler: string, cause: unknown) {
    super(
      `Could not set up ${handler}: ${describe(cause)}. ` +
        `Check that the log file's directory exists and is writable, or pick another path.`,
      { cause },
    );
  }
}

/**
 * A handler threw while the listener handed it a record. The listener
 * reports this through its `onError` option (once per handler and kind of
 * failure) and keeps going: the other handlers still get every record.
 *
 * @example
 * ```ts
 * import { HandlerError } from "@workerlog/workerlog";
 *
 * const error = new HandlerError("FileHandler (out.log)", new Error("No space left on device"));
 * console.log(error.handler); // FileHandler (out.log)
 * ```
 */
export class HandlerError extends WorkerlogError {
  /** Which handler failed, with its file where it has one. */
  readonly handler: string;

  /**
   * Builds the error for the handler (described) and what it threw. A
   * workerlog error as the cause (a sink's own report) already says what to
   * do, so its message is kept as it is.
   */
  constructor(handler: string, cause: unknown) {
    super(
      isWorkerlogError(cause)
        ? `${handler}: ${describe(cause)}`
        : `${handler} failed: ${describe(cause)}. The other handlers keep receiving records; ` +
          `fix the cause (disk space, permissions, a deleted directory) or remove the handler.`,
      { cause },
    );
    this.handler = handler;
  }
}

/**
 * A BatchFileHandler found its log file deleted (or its directory removed,
 * or another file in its place) and created it again. Records written
 * between the deletion and the handler's next flush, at most one event-loop
 * turn's worth, went to the deleted file. The listener reports this through
 * `onError`; the handler keeps writing to the new file.
 *
 * @example
 * ```ts
 * import { LogFileReplacedError } from "@workerlog/workerlog";
 *
 * const error = new LogFileReplacedError("logs/app.log", "deleted");
 * console.log(error.path); // logs/app.log
 * ```
 */
export class LogFileReplacedError extends WorkerlogError {
  /** The log file's path. */
  readonly path: string;

  /** Builds the error for the path and what happened to it. */
  constructor(path: string, what: "deleted" | "replaced") {
    super(
      `The log file ${path} was ${
        what === "deleted" ? "deleted (or its directory removed)" : "replaced by another file"
      } while open; it has been created again and logging goes on there. ` +
        `If something rotates or cleans up logs, let it signal the process instead of deleting the file.`,
    );
    this.path = path;
  }
}

/**
 * Writes to a BatchFileHandler's file failed (a full disk, a quota, an I/O
 * error). Thrown once when writes start failing, and again only after a
 * write has succeeded in between; the listener reports it through
 * `onError`. Nothing is torn: what could not be written is kept and written
 * first once writes succeed again.
 *
 * @example
 * ```ts
 * import { LogWriteError } from "@workerlog/workerlog";
 *
 * const error = new LogWriteError("logs/app.log", new Error("No space left on device"), 1, 1024);
 * console.log(error.path); // logs/app.log
 * ```
 */
export class LogWriteError extends WorkerlogError {
  /** The log file's path. */
  readonly path: string;

  /**
   * Builds the error for the path, what the write threw, which fault this is
   * (1 for the first since the file was opened) and the bytes kept at most.
   */
  constructor(path: string, cause: unknown, fault: number, maxKeptBytes: number) {
    super(
      `${describe(cause)} (writing to ${path}, ` +
        `fault ${fault}). What was not written is kept, up to ${maxKeptBytes} bytes, and written ` +
        `first once writes succeed again; past that, new lines are dropped whole and counted in ` +
        `droppedLines. Free space on the disk or fix the cause.`,
      { cause },
    );
    this.path = path;
  }
}

/**
 * A spawned worker failed: its function threw, it died of an uncaught error,
 * or its module could not be loaded. `spawn()` rejects with it after every
 * record that worker sent has been written.
 *
 * @example
 * ```ts
 * import { WorkerError } from "@workerlog/workerlog";
 *
 * const error = new WorkerError(2, "worker-2", { name: "Error", message: "boom", stack: "Error: boom" });
 * console.log(error.message); // Worker 2 (worker-2) failed: Error: boom
 * ```
 */
export class WorkerError extends WorkerlogError {
  /** The index of the worker that failed. */
  readonly index: number;
  /** Its name, as records name it. */
  readonly worker: string;
  /** The stack of the original error, as the worker printed it. */
  readonly workerStack: string | undefined;

  /** Builds the error from the worker's index, name and what it threw. */
  constructor(index: number, worker: string, error: ErrorDescription) {
    super(`Worker ${index} (${worker}) failed: ${error.name}: ${error.message}`, {
      cause: error,
    });
    this.index = index;
    this.worker = worker;
    this.workerStack = error.stack;
  }
}

/**
 * The listener was used in a state that does not allow it: connecting before
 * `start()` or after `stop()`.
 *
 * @example
 * ```ts
 * import { QueueListener, ListenerStateError } from "@workerlog/workerlog";
 *
 * const listener = new QueueListener([]);
 * try {
 *   listener.connect();
 * } catch (error) {
 *   console.log(error instanceof ListenerStateError); // true
 * }
 * ```
 */
export class ListenerStateError extends WorkerlogError {}

/**
 * A handler that forwards records over the network (`SyslogHandler`,
 * `OtlpHandler`) could not deliver some of them, or found its receiver gone.
 * Reported through the listener's `onError` (or the handler's own `onError`)
 * once per episode; the message says what happened to the records and what
 * to do.
 *
 * @example
 * ```ts
 * import { ForwardingError } from "@workerlog/workerlog";
 *
 * const error = new ForwardingError("tcp://127.0.0.1:514", "The receiver is down.");
 * console.log(error.target); // tcp://127.0.0.1:514
 * ```
 */
export class ForwardingError extends WorkerlogError {
  /** Where the handler sends: a syslog address or an OTLP endpoint. */
  readonly target: string;

  /** Builds the error; `message` says what happened and what to do. */
  constructor(target: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.target = target;
  }
}

/**
 * What went wrong in an OtlpHandler, for code that tells the faults apart:
 * the receiver is unreachable ("unavailable"), refused a batch ("failed"),
 * rejected some records of one ("rejected"), the queue was full
 * ("queue-full"), records were left when it closed ("undelivered"), or an
 * environment variable could not be read ("environment").
 *
 * @example
 * ```ts
 * import { type OtlpFault, QueueListener } from "@workerlog/workerlog";
 *
 * const urgent: OtlpFault[] = ["queue-full", "undelivered"];
 * const listener = new QueueListener([], {
 *   onError: (error) => {
 *     const fault = (error.cause as { fault?: OtlpFault }).fault;
 *     if (fault && urgent.includes(fault)) console.error(error.message);
 *   },
 * });
 * ```
 */
export type OtlpFault =
  | "unavailable"
  | "failed"
  | "rejected"
  | "queue-full"
  | "undelivered"
  | "environment";

/**
 * An OtlpHandler could not deliver, or the receiver refused, some records.
 * Reported through the listener's `onError` (or the handler's own `onError`)
 * once per episode: once when the receiver goes away, again only after a
 * request has succeeded in between. The message says how many records it
 * concerns and what to do.
 *
 * @example Tell an unreachable collector from a refused payload
 * ```ts
 * import { OtlpExportError } from "@workerlog/workerlog";
 *
 * const error = new OtlpExportError("failed", "http://localhost:4318/v1/logs", 1024, "Dropped.", 401);
 * console.log(error.fault, error.status, error.records); // failed 401 1024
 * ```
 */
export class OtlpExportError extends ForwardingError {
  /** What kind of fault. */
  readonly fault: OtlpFault;
  /** The logs endpoint the handler sends to. */
  readonly endpoint: string;
  /** How many records it concerns (0 where that is not known yet). */
  readonly records: number;
  /** The HTTP status, when the receiver answered. */
  readonly status: number | undefined;

  /** Builds the error; `message` says what happened and what to do. */
  constructor(
    fault: OtlpFault,
    endpoint: string,
    records: number,
    message: string,
    status?: number,
    options?: ErrorOptions,
  ) {
    super(endpoint, message, options);
    this.fault = fault;
    this.endpoint = endpoint;
    this.records = records;
    this.status = status;
  }
}

/**
 * The handlers module of a `WriterListener` could not be used: it failed to
 * load, has no handlers function (a `handlers` or default export), or that
 * function threw or returned something other than an array of handlers.
 * Thrown by `start()`, before any sender connects.
 *
 * @example
 * ```ts
 * import { HandlerModuleError } from "@workerlog/workerlog";
 *
 * const error = new HandlerModuleError("file:///app/log_handlers.ts", {
 *   name: "TypeError",
 *   message: "it has no handlers function",
 * });
 * console.log(error.url); // file:///app/log_handlers.ts
 * ```
 */
export class HandlerModuleError extends WorkerlogError {
  /** The handlers module's URL. */
  readonly url: string;

  /** Builds the error for the module and what went wrong in the writer. */
  constructor(url: string, error: ErrorDescription) {
    super(
      `Could not build the log handlers from ${url}: ${error.name}: ${error.message}. ` +
        `The module must export a function (as \`handlers\` or its default export) that returns ` +
        `an array of handlers of the @std/log package, or a promise of one.`,
      { cause: error },
    );
    this.url = url;
  }
}

/**
 * An error as it crosses threads: plain fields only.
 *
 * @example
 * ```ts
 * import { type ErrorDescription, WorkerError } from "@workerlog/workerlog";
 *
 * const description: ErrorDescription = { name: "TypeError", message: "x is undefined" };
 * console.log(new WorkerError(0, "worker-0", description).message);
 * ```
 */
export interface ErrorDescription {
  /** The error's class name, e.g. "TypeError". */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when it had one. */
  stack?: string;
}

/**
 * Turns anything thrown into plain fields that survive structured clone.
 * Never throws, whatever was thrown: a null-prototype object, an object
 * whose `toString` or getters throw, a revoked Proxy.
 */
export function describeError(error: unknown): ErrorDescription {
  if (isError(error)) {
    const stack = readText(() => error.stack);
    return {
      name: readText(() => error.name) ?? "Error",
      message: readText(() => error.message) ?? "",
      ...(stack === undefined ? {} : { stack }),
    };
  }
  return { name: "Error", message: describe(error) };
}

/** Whether `value` is an Error; false (not a throw) for a revoked Proxy. */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** Whether `value` is one of workerlog's errors; false (not a throw) for a revoked Proxy. */
export function isWorkerlogError(value: unknown): value is WorkerlogError {
  try {
    return value instanceof WorkerlogError;
  } catch {
    return false;
  }
}

function readText(read: () => unknown): string | undefined {
  try {
    const value = read();
    return value === undefined ? undefined : describe(value);
  } catch {
    return undefined;
  }
}

/** A one-line text for anything thrown or given; never throws. */
export function describe(cause: unknown): string {
  try {
    if (cause instanceof Error) return String(cause.message);
    if (typeof cause === "string") return cause;
    return Deno.inspect(cause, { depth: 2, breakLength: Infinity, colors: false });
  } catch {
    return fallbackText(cause);
  }
}

function fallbackText(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return "[a value that cannot be described]";
    }
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : describe(value);
}

/**
 * An instance of `setupSharedLogging()` won the election to write the shared
 * log but could not start writing: its handlers factory threw, a handler's
 * setup failed (e.g. the log file cannot be opened), or the socket could not
 * be bound. It lets another instance try; every instance keeps its records
 * (up to `maxBufferBytes`) until one can write them. Printed to stderr once
 * per instance and cause, and kept in `stats().writerError`.
 *
 * @example
 * ```ts
 * import { WriterStartError } from "@workerlog/workerlog";
 *
 * const error = new WriterStartError("/tmp/app-log/log.sock", new Error("Permission denied"));
 * console.log(error.message.includes("Permission denied")); // true
 * ```
 */
export class WriterStartError extends WorkerlogError {
  /** Builds the error for the shared socket path and what failed. */
  constructor(path: string, cause: unknown) {
    const failure = describe(cause).replace(/\.$/, "");
    super(
      `This instance was elected to write the log shared at ${path} but could not start: ` +
        `${failure}. Its records and the other instances' are kept (up to maxBufferBytes ` +
        `each) until an instance can write them: fix the cause, e.g. the log file's path or ` +
        `permissions, or what the handlers factory throws.`,
      { cause },
    );
  }
}
