/**
 * The counters one sender and the listener share through a SharedArrayBuffer.
 * They bound what is in flight (in records and in bytes), let the listener
 * know how many messages to wait for when a sender dies, and count what was
 * dropped or rejected.
 *
 * Counts are Int32 and wrap; differences are taken with `| 0`, so they stay
 * right as long as less than 2^31 (records or bytes) is in flight.
 *
 * @module
 */

/** Records posted by the sender (sender writes). */
export const POSTED = 0;
/** Records the listener has dispatched or rejected (listener writes; the sender waits on it). */
export const HANDLED = 1;
/** Messages posted by the sender (sender writes). */
export const SENT = 2;
/** Records the sender dropped because a cap was reached (sender writes). */
export const DROPPED = 3;
/** Records the sender did not post because the listener had closed (sender writes). */
export const REJECTED = 4;
/** Non-zero once the listener has closed this channel (listener writes). */
export const CLOSED = 5;
/** Bytes posted by the sender (sender writes). */
export const POSTED_BYTES = 6;
/** Bytes the listener has handled (listener writes). */
export const HANDLED_BYTES = 7;
/**
 * Times the listener asked for the batch being built (listener writes). It
 * asks with a message too, but a sender busy in a synchronous loop reads no
 * messages; it reads this at every log call.
 */
export const POST_REQUESTS = 8;

/**
 * Non-zero while the sender sleeps at a cap (sender writes). The listener
 * wakes it only then: a wake costs a system call, and most batches find
 * nobody waiting.
 */
export const WAITING = 9;

const SLOTS = 10;

/**
 * What a sender does when what it has in flight reaches a cap: "block"
 * waits until the listener catches up; "drop" drops and counts.
 *
 * @example
 * ```ts
 * import { type OverflowPolicy, QueueListener } from "@workerlog/workerlog";
 *
 * const overflow: OverflowPolicy = "drop";
 * const listener = new QueueListener([], { overflow });
 * ```
 */
export type OverflowPolicy = "block" | "drop";

/**
 * A blocked sender resumes when this much or less is in flight; the
 * listener wakes it only then.
 */
export function resumeLevel(cap: number): number {
  return Math.floor(cap / 2);
}

/** Allocates the shared counters of one channel. */
export function createFlow(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
}

/** Posts a message and counts it, so the listener knows what to wait for. */
export function sendCounted(
  port: PostTarget,
  flow: Int32Array | undefined,
  message: unknown,
  transfer: Transferable[] = [],
): void {
  port.postMessage(message, transfer);
  if (flow) Atomics.add(flow, SENT, 1);
}

/**
 * Anything batches can be posted to: a MessagePort, a Worker, or your own.
 *
 * @example Count the messages a QueueHandler posts
 * ```ts
 * import { type PostTarget, QueueHandler } from "@workerlog/workerlog";
 *
 * let messages = 0;
 * const target: PostTarget = { postMessage: () => void messages++ };
 * const handler = new QueueHandler("INFO", { connection: { port: target, name: "counted" } });
 * ```
 */
export interface PostTarget {
  /** Sends one message; `transfer` lists buffers to move rather than copy. */
  postMessage(message: unknown, transfer: Transferable[]): void;
}
