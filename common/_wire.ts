/**
 * The wire format between a QueueHandler and a QueueListener: the shapes
 * both sides agree on, and nothing else. The sender encodes
 * (sender/_batch_builder.ts), the listener decodes (listener/_decode.ts).
 *
 * A batch is columnar (typed arrays for times and levels, one string for all
 * the texts) because structured clone copies a few columns far faster than
 * hundreds of small objects.
 *
 * @module
 */
import type { LevelName } from "@std/log";
import type { OverflowPolicy, PostTarget } from "./_flow.ts";

/** Sender to listener: a batch of records. */
export const RECORDS = 0;
/** Sender to listener: a batch of lines formatted by the sender. */
export const LINES = 1;
/** Sender to listener: "tell me when everything before this is written". */
export const FLUSH = 2;
/** Sender to listener: a logger nobody listed was routed to the listener. */
export const UNLISTED = 3;
/** Listener to sender: the answer to FLUSH. */
export const FLUSHED = 4;
/** Listener to sender: the listener has closed this channel. */
export const CLOSING = 5;
/** Listener to sender: post the batch being built now (the program is ending). */
export const POST_NOW = 6;

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
  /** The size the in-flight limit counts for this batch (texts and args). */
  size: number;
}

/**
 * Records, in columns: the messages joined in `text`, logger names as a
 * table and an index per record.
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
export type SenderMessage =
  | RecordBatch
  | LineBatch
  | { kind: typeof FLUSH; id: number }
  | { kind: typeof UNLISTED; logger: string; level: LevelName };

/** Any message the listener posts back to a sender. */
export type ListenerMessage =
  | { kind: typeof FLUSHED; id: number }
  | { kind: typeof CLOSING }
  | { kind: typeof POST_NOW };

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
  /** At most about this many bytes of text buffered between this sender and the listener. */
  readonly maxInFlightBytes?: number;
  /** What to do when a cap is reached. */
  readonly overflow?: OverflowPolicy;
}

/** Whether a connection is still on the listener's own thread. */
export function isSameThread(connection: QueueConnection): boolean {
  return (connection as { [SAME_THREAD]?: true })[SAME_THREAD] === true;
}
