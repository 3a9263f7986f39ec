import { DROPPED, HANDLED, POSTED, REJECTED, resumeLevel, SENT } from "../common/_flow.ts";
import type { SenderIdentity } from "../common/_wire.ts";

/** How long a drain may see no progress before it gives up. */
export const DRAIN_STALL_MS = 5_000;

/**
 * The counters the listener keeps for one sender.
 *
 * @example Records per worker
 * ```ts
 * import { QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * for (const sender of listener.stats().senders) {
 *   console.log(sender.name, sender.dispatched, sender.peakInFlight);
 * }
 * ```
 */
export interface SenderStats {
  /** The sender's name, e.g. "worker-2" or "main". */
  name: string;
  /** Its index among spawned workers, when it has one. */
  index?: number;
  /** Records that arrived from it. */
  received: number;
  /**
   * Records handed to the handlers (each handler that admits the level got
   * it; a handler that threw on it is counted in `handlerErrors`).
   */
  dispatched: number;
  /** Records it dropped because the in-flight cap was reached (overflow "drop"). */
  dropped: number;
  /** Records refused because the listener had stopped or detached it. */
  rejected: number;
  /** The most records ever posted by it and not yet written by the listener. */
  peakInFlight: number;
}

/** The listener's end of one connection: its port, counters and drains. */
export class Sender implements SenderIdentity {
  readonly name: string;
  readonly index: number | undefined;
  readonly port: MessagePort;
  readonly flow: Int32Array;
  received = 0;
  dispatched = 0;
  rejected = 0;
  peakInFlight = 0;
  droppedReported = 0;
  /** Set once `detach()` has begun; settles when the sender is fully closed. */
  detached: Promise<void> | undefined;
  #handled = 0;
  #messages = 0;
  #closedAfter: number | undefined;
  #drains: { target: number; resolve: () => void }[] = [];

  readonly #resumeAt: number;

  constructor(
    name: string,
    index: number | undefined,
    port: MessagePort,
    flow: Int32Array,
    maxInFlight: number,
  ) {
    this.name = name;
    this.index = index;
    this.port = port;
    this.flow = flow;
    this.#resumeAt = resumeLevel(maxInFlight);
  }

  /** Counts an arriving message; false when it came after the close and must be refused. */
  accept(): boolean {
    this.#messages = (this.#messages + 1) | 0;
    return this.#closedAfter === undefined ||
      ((this.#messages - this.#closedAfter) | 0) <= 0;
  }

  /** Notes a batch of `count` records arriving, for the in-flight peak. */
  arrived(count: number): void {
    this.received += count;
    const inFlight = (Atomics.load(this.flow, POSTED) - this.#handled) | 0;
    if (inFlight > this.peakInFlight) this.peakInFlight = inFlight;
  }

  /**
   * Tells the sender that `count` more records are done with, and wakes it
   * if it may be waiting and could now go on. Waking a thread costs a
   * context switch; once per half window is enough.
   */
  handled(count: number): void {
    this.#handled = (this.#handled + count) | 0;
    Atomics.add(this.flow, HANDLED, count);
    const inFlight = (Atomics.load(this.flow, POSTED) - this.#handled) | 0;
    if (inFlight <= this.#resumeAt) Atomics.notify(this.flow, HANDLED);
  }

  /** Records the sender has dropped so far. */
  dropped(): number {
    return Atomics.load(this.flow, DROPPED);
  }

  /** Refuses every message the sender posts from now on. */
  close(): void {
    this.#closedAfter ??= Atomics.load(this.flow, SENT);
  }

  /**
   * Resolves once every message the sender had posted when this was called
   * has been processed; false if it stalled for DRAIN_STALL_MS first.
   */
  drain(): Promise<boolean> {
    const target = this.#closedAfter ?? Atomics.load(this.flow, SENT);
    if (this.#reached(target)) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const drain = { target, resolve: () => resolve(true) };
    this.#drains.push(drain);
    let seen = this.#messages;
    const watch = setInterval(() => {
      if (seen !== this.#messages) {
        seen = this.#messages;
        return;
      }
      this.#drains = this.#drains.filter((pending) => pending !== drain);
      resolve(false);
    }, DRAIN_STALL_MS);
    return promise.finally(() => clearInterval(watch));
  }

  /** Resolves the drains this message completed. */
  settleDrains(): void {
    if (this.#drains.length === 0) return;
    const open = [];
    for (const drain of this.#drains) {
      if (this.#reached(drain.target)) drain.resolve();
      else open.push(drain);
    }
    this.#drains = open;
  }

  /** Its counters; after a close, records posted but never processed count as rejected. */
  stats(): SenderStats {
    const lost = this.#closedAfter === undefined
      ? 0
      : Math.max(0, (Atomics.load(this.flow, POSTED) - this.#handled) | 0);
    return {
      name: this.name,
      ...(this.index === undefined ? {} : { index: this.index }),
      received: this.received,
      dispatched: this.dispatched,
      dropped: this.dropped(),
      rejected: this.rejected + Atomics.load(this.flow, REJECTED) + lost,
      peakInFlight: this.peakInFlight,
    };
  }

  #reached(target: number): boolean {
    return ((this.#messages - target) | 0) >= 0;
  }
}
