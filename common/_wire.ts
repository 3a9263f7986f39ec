/**
 * The wire format between a QueueHandler and a QueueListener: what a batch
 * holds, how a sender builds one, and how the listener turns it back into
 * records. Both sides use this module and nothing else encodes a record.
 *
 * A batch is columnar (typed arrays for times and levels, string arrays for
 * the rest) because structured clone copies a few columns far faster than
 * hundreds of small objects.
 *
 * @module
 */
import type { LevelName, LogLevel, LogRecord } from "@std/log";
import { captureArgs } from "./_capture.ts";
import type { OverflowPolicy, PostTarget } from "./_flow.ts";
import { WorkerLogRecord } from "./worker_log_record.ts";

/** Sender to listener: a batch of records. */
export const RECORDS = 0;
/** Sender to listener: a batch of lines formatted by the sender. */
export const LINES = 1;
/** Sender to listener: "tell me when everything before this is written". */
export const FLUSH = 2;
/** Listener to sender: the answer to FLUSH. */
export const FLUSHED = 3;
/** Listener to sender: the listener has closed this channel. */
export const CLOSING = 4;

/**
 * Marks a connection still on the listener's own thread. Structured clone
 * drops symbol-keyed fields, so a connection sent to a worker loses it.
 */
export const SAME_THREAD: unique symbol = Symbol("workerlog.sameThread");

/** The key of the message `QueueListener.attach()` posts to a worker. */
export const CONNECT_KEY = "workerlog:connect";

/** What every batch has: levels, and texts (messages or lines) end to end in one string. */
interface Batch {
  /** The seq of the first record; the i-th has `seq + i`. */
  seq: number;
  levels: Uint8Array;
  /** The texts, one after another: messages for records, lines each with its "\n". */
  text: string;
  /** Where each text ends in `text`. */
  ends: Uint32Array;
}

/**
 * Records, in columns: the messages joined in `text`, logger names as a
 * table and an index per record. One string and a few typed arrays clone
 * about four times faster than arrays of hundreds of small strings.
 */
export interface RecordBatch extends Batch {
  kind: typeof RECORDS;
  times: Float64Array;
  loggerNames: string[];
  loggerAt: Uint16Array;
  /** Indexes of the records that have args, and their args. */
  argAt: number[];
  args: unknown[][];
}

/** Finished lines, each followed by "\n" in `text`, ready to be written as they are. */
export interface LineBatch extends Batch {
  kind: typeof LINES;
  minLevel: number;
}

/** Any message a sender posts to the listener. */
export type SenderMessage = RecordBatch | LineBatch | {
  kind: typeof FLUSH;
  id: number;
};

/** Any message the listener posts back to a sender. */
export type ListenerMessage =
  | { kind: typeof FLUSHED; id: number }
  | { kind: typeof CLOSING };

/**
 * Everything a QueueHandler needs to send to a listener: the port, the
 * sender's name, and the shared flow-control state. Made by
 * `QueueListener.connect()`; structured-cloneable, with `port` transferred.
 *
 * @example Hand a connection to a worker yourself
 * ```ts ignore
 * import { QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const connection = listener.connect({ name: "indexer" });
 * worker.postMessage({ logging: connection }, [connection.port as MessagePort]);
 * // in the worker: await setupWorkerLogging({ connection: event.data.logging })
 * ```
 */
export interface QueueConnection {
  /** Where batches go: a MessagePort from the listener, or any `postMessage` target. */
  readonly port: PostTarget;
  /** The sender's name as it appears in records, e.g. "worker-2". */
  readonly name: string;
  /** The sender's index when it is one of several spawned workers. */
  readonly index?: number;
  /** The lowest level any of the listener's handlers takes. */
  readonly level?: LevelName;
  /** Counters shared with the listener; without them nothing is capped. */
  readonly shared?: SharedArrayBuffer;
  /** At most this many records buffered between this sender and the listener. */
  readonly maxInFlight?: number;
  /** What to do when the cap is reached. */
  readonly overflow?: OverflowPolicy;
}

/** Whether a connection is still on the listener's own thread. */
export function isSameThread(connection: QueueConnection): boolean {
  return (connection as { [SAME_THREAD]?: true })[SAME_THREAD] === true;
}

/** Accumulates records or lines into one batch at a time (sender side). */
export class BatchBuilder {
  readonly capacity: number;
  #kind: typeof RECORDS | typeof LINES = RECORDS;
  #size = 0;
  #seq = 0;
  #levels!: Uint8Array;
  #ends!: Uint32Array;
  #times!: Float64Array;
  #loggerNames: string[] = [];
  #loggerAt!: Uint16Array;
  #lastLogger = "";
  #lastLoggerAt = -1;
  #argAt: number[] = [];
  #args: unknown[][] = [];
  #minLevel = 255;
  #texts: string[] = [];
  #textLength = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#allocate();
  }

  /** Records or lines in the batch being built. */
  get size(): number {
    return this.#size;
  }

  /** The kind of the batch being built; the first add decides it. */
  get kind(): typeof RECORDS | typeof LINES {
    return this.#kind;
  }

  /** Adds a record; its args are captured now, as JSON-safe data. */
  addRecord(seq: number, record: LogRecord): void {
    const i = this.#start(seq, RECORDS, record.level);
    this.#times[i] = record.datetime.getTime();
    this.#loggerAt[i] = this.#loggerIndex(record.loggerName);
    this.#addText(i, record.msg, 0);
    const args = record.args;
    if (args.length > 0) {
      this.#argAt.push(i);
      this.#args.push(captureArgs(args));
    }
  }

  /** Adds a finished line (without its "\n"). */
  addLine(seq: number, level: number, line: string): void {
    const i = this.#start(seq, LINES, level);
    if (level < this.#minLevel) this.#minLevel = level;
    this.#addText(i, line, 1);
  }

  /** Hands out the batch and its transfer list, and starts a new one. */
  take(): { batch: RecordBatch | LineBatch; transfer: ArrayBuffer[] } {
    const n = this.#size;
    const common = {
      seq: this.#seq,
      levels: this.#levels.subarray(0, n),
      // One join makes one flat string; += would make a rope that structured
      // clone has to flatten first.
      text: this.#kind === LINES ? this.#texts.join("\n") + "\n" : this.#texts.join(""),
      ends: this.#ends.subarray(0, n),
    };
    const transfer = [this.#levels.buffer, this.#ends.buffer] as ArrayBuffer[];
    let batch: RecordBatch | LineBatch;
    if (this.#kind === RECORDS) {
      batch = {
        kind: RECORDS,
        ...common,
        times: this.#times.subarray(0, n),
        loggerNames: this.#loggerNames,
        loggerAt: this.#loggerAt.subarray(0, n),
        argAt: this.#argAt,
        args: this.#args,
      };
      transfer.push(this.#times.buffer as ArrayBuffer, this.#loggerAt.buffer as ArrayBuffer);
    } else {
      batch = { kind: LINES, ...common, minLevel: this.#minLevel };
    }
    this.#allocate();
    return { batch, transfer };
  }

  #start(seq: number, kind: typeof RECORDS | typeof LINES, level: number) {
    if (this.#size === 0) {
      this.#seq = seq;
      this.#kind = kind;
      if (kind === RECORDS && this.#times.length === 0) {
        this.#times = new Float64Array(this.capacity);
        this.#loggerAt = new Uint16Array(this.capacity);
      }
    }
    this.#levels[this.#size] = level;
    return this.#size++;
  }

  // Adds a text that ends at `ends[i]`, followed by `gap` separator characters.
  #addText(i: number, text: string, gap: number) {
    this.#texts.push(text);
    this.#textLength += text.length;
    this.#ends[i] = this.#textLength;
    this.#textLength += gap;
  }

  #loggerIndex(name: string): number {
    if (name !== this.#lastLogger || this.#lastLoggerAt < 0) {
      let at = this.#loggerNames.indexOf(name);
      if (at < 0) at = this.#loggerNames.push(name) - 1;
      this.#lastLogger = name;
      this.#lastLoggerAt = at;
    }
    return this.#lastLoggerAt;
  }

  // Transferred buffers are gone from this side, so each batch gets new
  // ones; the columns only records have wait until a record comes.
  #allocate() {
    this.#size = 0;
    this.#levels = new Uint8Array(this.capacity);
    this.#ends = new Uint32Array(this.capacity);
    this.#times = NO_TIMES;
    this.#loggerAt = NO_LOGGERS;
    this.#texts = [];
    this.#textLength = 0;
    this.#loggerNames = [];
    this.#lastLoggerAt = -1;
    this.#argAt = [];
    this.#args = [];
    this.#minLevel = 255;
  }
}

/** Who sent a batch, as records name them. */
export interface SenderIdentity {
  readonly name: string;
  readonly index?: number;
}

const NO_ARGS: unknown[] = [];
const NO_TIMES = new Float64Array(0);
const NO_LOGGERS = new Uint16Array(0);

/** Rebuilds every record of a batch, in order, and hands each to `dispatch`. */
export function forEachRecord(
  batch: RecordBatch,
  sender: SenderIdentity,
  dispatch: (record: WorkerLogRecord) => void,
): void {
  const { text, ends, times, levels, loggerNames, loggerAt, argAt, args, seq } = batch;
  let nextArgs = 0;
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    let recordArgs = NO_ARGS;
    if (argAt[nextArgs] === i) recordArgs = args[nextArgs++];
    dispatch(
      new WorkerLogRecord({
        msg: text.slice(start, ends[i]),
        args: recordArgs,
        level: levels[i] as LogLevel,
        loggerName: loggerNames[loggerAt[i]],
        datetime: times[i],
        worker: sender.name,
        workerIndex: sender.index,
        seq: seq + i,
      }),
    );
    start = ends[i];
  }
}

/** The i-th line of a line batch, without its "\n". */
export function lineAt(batch: LineBatch, i: number): string {
  return batch.text.slice(i === 0 ? 0 : batch.ends[i - 1] + 1, batch.ends[i]);
}
