/**
 * The listener's view of one connection: what came in from one sender, what
 * was dispatched or refused, the flow control it shares with that sender,
 * and draining it when it closes. It is the same for every kind of sender: a
 * worker's MessagePort (with shared counters) or the main thread (records
 * handed over directly, nothing in flight).
 *
 * @module
 */
import { type LevelName, type LogLevel, LogLevels } from "@std/log";
import {
  DROPPED,
  HANDLED,
  HANDLED_BYTES,
  POST_REQUESTS,
  POSTED,
  POSTED_BYTES,
  REJECTED,
  resumeLevel,
  SENT,
  WAITING,
} from "../common/_flow.ts";
import {
  FLUSH,
  FLUSHED,
  type LineBatch,
  LINES,
  type ListenerMessage,
  POST_NOW,
  type RecordBatch,
  RECORDS,
  type SenderMessage,
  UNLISTED,
} from "../common/_wire.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import type { FanOut } from "./_fan_out.ts";

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
   * Records handed to the handlers: each handler that admits the level got
   * it, whether or not it threw (each throw is counted in `handlerErrors`).
   */
  dispatched: number;
  /** Records it dropped because an in-flight cap was reached (overflow "drop"). */
  dropped: number;
  /** Records refused because the listener had stopped or detached it. */
  rejected: number;
  /** The most records ever posted by it and not yet handled by the listener. */
  peakInFlight: number;
  /** The most bytes (of text and args) ever posted by it and not yet handled. */
  peakInFlightBytes: number;
}

/** What a connection needs from its listener. */
export interface ConnectionContext {
  readonly fanOut: FanOut;
  /** The caps, for the notice about dropped records. */
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  /** Whether records are still dispatched (false once the listener has stopped). */
  isOpen(): boolean;
  /** A sender routed a logger nobody listed. */
  noticeUnlisted(logger: string, level: LevelName, from: Connection): void;
}

/**
 * How a connection reaches its sender: the transport's part. A link for a
 * new kind of sender (a socket, a process) is a new file that provides this.
 */
export interface ConnectionLink {
  /** The counters shared with the sender (common/_flow.ts). */
  readonly flow: Int32Array;
  /** Posts a message back to the sender. */
  reply(message: ListenerMessage): void;
  /** Tells the sender that the listener has closed: it stops posting. */
  closing(): void;
  /** Releases the transport, once everything the sender had posted is processed. */
  release(): void;
  /**
   * What the drop notice advises when this sender's own buffer, not the
   * listener's in-flight caps, decides what is dropped (a process's).
   */
  readonly dropAdvice?: string;
}

/** The listener's end of one connection. */
export class Connection {
  readonly name: string;
  readonly index: number | undefined;
  /** Set once `detach()` has begun; settles when the connection is fully closed. */
  detached: Promise<void> | undefined;
  readonly #context: ConnectionContext;
  readonly #link: ConnectionLink | undefined;
  readonly #flow: Int32Array | undefined;
  readonly #resumeAt: number;
  readonly #resumeAtBytes: number;
  #received = 0;
  #dispatched = 0;
  #rejected = 0;
  #peakInFlight = 0;
  #peakInFlightBytes = 0;
  #droppedReported = 0;
  #handled = 0;
  #handledBytes = 0;
  #messages = 0;
  #closedAfter: number | undefined;
  #drains: { target: number; resolve: () => void }[] = [];
  #seq = 0;
  #postRequests: (() => void)[] = [];

  constructor(
    name: string,
    index: number | undefined,
    context: ConnectionContext,
    link?: ConnectionLink,
  ) {
    this.name = name;
    this.index = index;
    this.#context = context;
    this.#link = link;
    this.#flow = link?.flow;
    this.#resumeAt = resumeLevel(context.maxInFlight);
    this.#resumeAtBytes = resumeLevel(context.maxInFlightBytes);
  }

  /** Takes one message from the sender's port. */
  receive(message: SenderMessage): void {
    const accepted = this.#accept();
    switch (message.kind) {
      case RECORDS:
      case LINES:
        this.#receiveBatch(message, accepted);
        break;
      case FLUSH:
        this.#context.fanOut.flush();
        this.#link?.reply({ kind: FLUSHED, id: message.id });
        this.#settlePostRequests();
        break;
      case UNLISTED:
        this.#context.noticeUnlisted(message.logger, message.level, this);
        break;
    }
    this.#settleDrains();
  }

  /** Takes one record logged on the listener's own thread. */
  receiveRecord(record: WorkerLogRecord): void {
    if (!this.#isAccepting()) {
      this.#rejected++;
      return;
    }
    this.#received++;
    this.#context.fanOut.record(record);
    this.#dispatched++;
  }

  /** Takes one finished line logged on the listener's own thread. */
  receiveLine(level: number, line: string): void {
    if (!this.#isAccepting()) {
      this.#rejected++;
      return;
    }
    this.#received++;
    this.#context.fanOut.line(level, line);
    this.#dispatched++;
  }

  /** The next seq for a record logged on the listener's own thread. */
  nextSeq(): number {
    return this.#seq++;
  }

  /**
   * Asks the sender to post the batch it is building now; resolves once it
   * has (it answers with a flush), or at once for a sender on this thread.
   * A sender busy in a synchronous loop answers at its next log call.
   */
  requestPost(): Promise<void> {
    if (this.#link === undefined) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#postRequests.push(resolve);
    Atomics.add(this.#link.flow, POST_REQUESTS, 1);
    this.#link.reply({ kind: POST_NOW });
    return promise;
  }

  /**
   * Refuses every message the sender posts from now on, tells it so, waits
   * for everything it had posted, then releases the link. Resolves false if
   * the sender stalled for DRAIN_STALL_MS first (what it had posted is then
   * counted as rejected).
   */
  async close(): Promise<boolean> {
    this.#settlePostRequests();
    this.#closedAfter ??= this.#flow ? Atomics.load(this.#flow, SENT) : this.#messages;
    this.#link?.closing();
    const drained = await this.#drain();
    this.noticeDrops();
    this.#link?.release();
    return drained;
  }

  // Resolves once every message the sender had posted when it closed has
  // been processed; false if it stalled for DRAIN_STALL_MS first.
  #drain(): Promise<boolean> {
    const target = this.#closedAfter ?? (this.#flow ? Atomics.load(this.#flow, SENT) : 0);
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

  /** Writes one WARN record if the sender dropped records since the last one. */
  noticeDrops(): void {
    const dropped = this.#dropped();
    const fresh = (dropped - this.#droppedReported) | 0;
    if (fresh <= 0) return;
    this.#droppedReported = dropped;
    const { maxInFlight, maxInFlightBytes } = this.#context;
    this.notice(
      LogLevels.WARN,
      `${this.name} dropped ${fresh} records: ` + (this.#link?.dropAdvice ??
        `${maxInFlight} records or ${maxInFlightBytes} bytes were already in flight (overflow ` +
          `"drop"). Raise maxInFlight or maxInFlightBytes, or use overflow "block" to keep every ` +
          `record.`),
    );
  }

  /** Dispatches a record from workerlog itself (logger "workerlog") about this sender. */
  notice(level: LogLevel, msg: string): void {
    this.#context.fanOut.record(
      new WorkerLogRecord({
        msg,
        args: [],
        level,
        loggerName: "workerlog",
        datetime: Date.now(),
        worker: this.name,
        ...(this.index === undefined ? {} : { workerIndex: this.index }),
        seq: -1,
      }),
    );
  }

  /** Its counters; after a close, records posted but never processed count as rejected. */
  stats(): SenderStats {
    const flow = this.#flow;
    const lost = this.#closedAfter === undefined || flow === undefined
      ? 0
      : Math.max(0, (Atomics.load(flow, POSTED) - this.#handled) | 0);
    return {
      name: this.name,
      ...(this.index === undefined ? {} : { index: this.index }),
      received: this.#received,
      dispatched: this.#dispatched,
      dropped: this.#dropped(),
      rejected: this.#rejected + (flow ? Atomics.load(flow, REJECTED) : 0) + lost,
      peakInFlight: this.#peakInFlight,
      peakInFlightBytes: this.#peakInFlightBytes,
    };
  }

  #receiveBatch(batch: RecordBatch | LineBatch, accepted: boolean) {
    const count = batch.levels.length;
    this.#received += count;
    this.#notePeaks();
    if (accepted && this.#context.isOpen()) {
      this.noticeDrops();
      if (batch.kind === RECORDS) this.#context.fanOut.records(batch, this);
      else this.#context.fanOut.lines(batch);
      this.#dispatched += count;
    } else {
      this.#rejected += count;
    }
    this.#handledBatch(count, batch.size);
  }

  #isAccepting(): boolean {
    return this.#closedAfter === undefined && this.#context.isOpen();
  }

  // Counts an arriving message; false when it came after the close and must be refused.
  #accept(): boolean {
    this.#messages = (this.#messages + 1) | 0;
    return this.#closedAfter === undefined ||
      ((this.#messages - this.#closedAfter) | 0) <= 0;
  }

  #notePeaks() {
    const flow = this.#flow;
    if (flow === undefined) return;
    const inFlight = (Atomics.load(flow, POSTED) - this.#handled) | 0;
    if (inFlight > this.#peakInFlight) this.#peakInFlight = inFlight;
    const bytes = (Atomics.load(flow, POSTED_BYTES) - this.#handledBytes) | 0;
    if (bytes > this.#peakInFlightBytes) this.#peakInFlightBytes = bytes;
  }

  // Tells the sender that a batch is done with, and wakes it if it may be
  // waiting and could now go on. Waking a thread costs a context switch;
  // once per half window is enough.
  #handledBatch(count: number, bytes: number) {
    const flow = this.#flow;
    if (flow === undefined) return;
    this.#handled = (this.#handled + count) | 0;
    this.#handledBytes = (this.#handledBytes + bytes) | 0;
    Atomics.add(flow, HANDLED_BYTES, bytes);
    Atomics.add(flow, HANDLED, count);
    const inFlight = (Atomics.load(flow, POSTED) - this.#handled) | 0;
    const inFlightBytes = (Atomics.load(flow, POSTED_BYTES) - this.#handledBytes) | 0;
    const resumes = inFlight <= this.#resumeAt && inFlightBytes <= this.#resumeAtBytes;
    if (resumes && Atomics.load(flow, WAITING) !== 0) Atomics.notify(flow, HANDLED);
  }

  #dropped(): number {
    return this.#flow ? Atomics.load(this.#flow, DROPPED) : 0;
  }

  #settlePostRequests() {
    for (const resolve of this.#postRequests) resolve();
    this.#postRequests = [];
  }

  #settleDrains() {
    if (this.#drains.length === 0) return;
    const open = [];
    for (const drain of this.#drains) {
      if (this.#reached(drain.target)) drain.resolve();
      else open.push(drain);
    }
    this.#drains = open;
  }

  #reached(target: number): boolean {
    return ((this.#messages - target) | 0) >= 0;
  }
}
