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
import { WorkerLogRecord } from "./listener/worker_log_record.ts";

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

/** Records, each at `seq + i`, in columns. */
export interface RecordBatch {
  kind: typeof RECORDS;
  seq: number;
  times: Float64Array;
  levels: Uint8Array;
  loggers: string[];
  msgs: string[];
  /** Indexes of the records that have args, and their args. */
  argAt: number[];
  args: unknown[][];
}

/** Finished lines, each ending in "\n", and where each ends in `text`. */
export interface LineBatch {
  kind: typeof LINES;
  seq: number;
  levels: Uint8Array;
  minLevel: number;
  text: string;
  ends: Uint32Array;
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
  #times!: Float64Array;
  #levels!: Uint8Array;
  #loggers: string[] = [];
  #msgs: string[] = [];
  #argAt: number[] = [];
  #args: unknown[][] = [];
  #text = "";
  #ends!: Uint32Array;
  #minLevel = 255;

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
    this.#loggers.push(record.loggerName);
    this.#msgs.push(record.msg);
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
    this.#text += line;
    this.#ends[i] = this.#text.length;
    this.#text += "\n";
  }

  /** Hands out the batch and its transfer list, and starts a new one. */
  take(): { batch: RecordBatch | LineBatch; transfer: ArrayBuffer[] } {
    const n = this.#size;
    const levels = this.#levels.subarray(0, n);
    const batch: RecordBatch | LineBatch = this.#kind === RECORDS
      ? {
        kind: RECORDS,
        seq: this.#seq,
        times: this.#times.subarray(0, n),
        levels,
        loggers: this.#loggers,
        msgs: this.#msgs,
        argAt: this.#argAt,
        args: this.#args,
      }
      : {
        kind: LINES,
        seq: this.#seq,
        levels,
        minLevel: this.#minLevel,
        text: this.#text,
        ends: this.#ends.subarray(0, n),
      };
    const transfer = [
      this.#levels.buffer,
      this.#kind === RECORDS ? this.#times.buffer : this.#ends.buffer,
    ] as ArrayBuffer[];
    this.#allocate();
    return { batch, transfer };
  }

  #start(seq: number, kind: typeof RECORDS | typeof LINES, level: number) {
    if (this.#size === 0) {
      this.#seq = seq;
      this.#kind = kind;
    }
    this.#levels[this.#size] = level;
    return this.#size++;
  }

  #allocate() {
    this.#size = 0;
    this.#levels = new Uint8Array(this.capacity);
    this.#times = new Float64Array(this.capacity);
    this.#ends = new Uint32Array(this.capacity);
    this.#loggers = [];
    this.#msgs = [];
    this.#argAt = [];
    this.#args = [];
    this.#text = "";
    this.#minLevel = 255;
  }
}

/** Who sent a batch, as records name them. */
export interface SenderIdentity {
  readonly name: string;
  readonly index?: number;
}

const NO_ARGS: unknown[] = [];

/** Rebuilds every record of a batch, in order, and hands each to `dispatch`. */
export function forEachRecord(
  batch: RecordBatch,
  sender: SenderIdentity,
  dispatch: (record: WorkerLogRecord) => void,
): void {
  const { times, levels, loggers, msgs, argAt, args, seq } = batch;
  let nextArgs = 0;
  for (let i = 0; i < msgs.length; i++) {
    let recordArgs = NO_ARGS;
    if (argAt[nextArgs] === i) recordArgs = args[nextArgs++];
    dispatch(
      new WorkerLogRecord({
        msg: msgs[i],
        args: recordArgs,
        level: levels[i] as LogLevel,
        loggerName: loggers[i],
        datetime: times[i],
        worker: sender.name,
        workerIndex: sender.index,
        seq: seq + i,
      }),
    );
  }
}

/** The i-th line of a line batch, without its "\n". */
export function lineAt(batch: LineBatch, i: number): string {
  return batch.text.slice(i === 0 ? 0 : batch.ends[i - 1] + 1, batch.ends[i]);
}
