/**
 * The link for senders in other processes: one per sender name, outliving
 * its sockets. A sender that reconnects continues the same link and so the
 * same Connection; its batches are counted into a local flow as they arrive
 * (a message as SENT, records as POSTED), so Connection's counting and
 * draining work as for a worker.
 *
 * Exactly once: the link remembers the next seq it expects from the sender's
 * session. A batch wholly below it is a resend of what was already
 * dispatched and is dropped; one that straddles it is cut. At the end of
 * every event-loop turn in which batches arrived, the handlers are flushed
 * and the sender gets a cumulative ACK: every seq below `next` has been
 * dispatched and flushed, so it may forget those batches.
 *
 * @module
 */
import { createFlow, DROPPED, POSTED, POSTED_BYTES, SENT } from "../common/_flow.ts";
import {
  ACK,
  decodeFrame,
  DROPPED as DROPPED_FRAME,
  FLUSH,
  FLUSHED,
  FrameEncoder,
  FrameError,
  type Hello,
  LINE_BATCH,
  RECORD_BATCH,
  UNLISTED,
  WELCOME,
} from "../common/_frames.ts";
import {
  FLUSH as FLUSH_MESSAGE,
  FLUSHED as FLUSHED_MESSAGE,
  type LineBatch,
  LINES,
  type ListenerMessage,
  POST_NOW as POST_NOW_MESSAGE,
  type RecordBatch,
  type SenderMessage,
  UNLISTED as UNLISTED_MESSAGE,
} from "../common/_wire.ts";
import type { ConnectionLink } from "./_connection.ts";
import type { Peer } from "./_socket_peer.ts";

// The id of the flushes the link asks for itself, to ack; never on the wire.
const ACK_ID = -1;

/** What the links of one server count together. */
export interface LinkCounters {
  /** Records that arrived again after they had been dispatched, and were dropped. */
  duplicates: number;
  /** Senders whose frame after the hello could not be decoded. */
  malformed: number;
}

/** The listener's end of one sending process, across its reconnects. */
export class SocketLink implements ConnectionLink {
  readonly flow: Int32Array = createFlow();
  readonly dropAdvice =
    "its buffer of records the listener had not acknowledged was full (maxBufferBytes of its " +
    "ProcessHandler or setupProcessLogging()). Raise maxBufferBytes, or keep the listener " +
    "reachable.";
  /** The sender's name. */
  readonly name: string;
  readonly #counters: LinkCounters;
  readonly #encoder = new FrameEncoder();
  #receive: (message: SenderMessage) => void = () => {};
  #noticeDrops: () => void = () => {};
  #peer: Peer | undefined;
  #session: string | undefined;
  #next: number;
  #closing = false;
  #ackQueued = false;

  /**
   * A link for `name`; `resumeAt` is the next seq of this name already in
   * the output (from `listen({ resume })`), for a sender that was sending to
   * an earlier listener.
   */
  constructor(name: string, resumeAt: number | undefined, counters: LinkCounters) {
    this.name = name;
    this.#next = resumeAt ?? 0;
    this.#counters = counters;
  }

  /** Routes the sender's messages to its Connection. */
  listen(receive: (message: SenderMessage) => void, noticeDrops: () => void): void {
    this.#receive = receive;
    this.#noticeDrops = noticeDrops;
  }

  /** Whether the listener detached this sender: a new process under its name needs a new link. */
  get closed(): boolean {
    return this.#closing;
  }

  /** Whether a socket of this sender is open now. */
  get connected(): boolean {
    return this.#peer !== undefined && !this.#peer.closed;
  }

  /** Resolves once the sender's current socket (if any) has been read to its end and closed. */
  get disconnected(): Promise<void> {
    return this.#peer?.whenClosed ?? Promise.resolve();
  }

  /** The session of the process sending under this name. */
  get session(): string | undefined {
    return this.#session;
  }

  /**
   * Takes over a socket whose hello was accepted: answers WELCOME with the
   * next seq it expects, and from then on reads the sender's frames.
   */
  attach(peer: Peer, hello: Hello, onMalformed: (peer: Peer, error: FrameError) => void): void {
    if (hello.session !== this.#session) {
      // Another process under this name (or the first): its seqs start
      // afresh, unless it is resuming what an earlier listener (whose output
      // `resume` described) had from it.
      if (this.#session !== undefined || !hello.resuming) this.#next = 0;
      this.#session = hello.session;
    }
    if (this.#peer !== peer) this.#peer?.close(); // a stale socket of the same session
    this.#peer = peer;
    peer.onFrame = (type, body) => {
      try {
        this.#onFrame(type, body);
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.#counters.malformed++;
        onMalformed(peer, error);
      }
    };
    peer.send(this.#encoder.numbers(WELCOME, this.#next));
  }

  /** Posts a reply: the answer to a flush (with the ack), or a request to post now. */
  reply(message: ListenerMessage): void {
    const peer = this.#peer;
    if (peer === undefined) return;
    if (message.kind === FLUSHED_MESSAGE) {
      peer.send(
        message.id === ACK_ID
          ? this.#encoder.numbers(ACK, this.#next)
          : this.#encoder.numbers(FLUSHED, message.id, this.#next),
      );
    } else if (message.kind === POST_NOW_MESSAGE) {
      peer.send(this.#encoder.postNow());
    }
  }

  /**
   * The listener is closing: acknowledges what was dispatched (the handlers
   * are flushed first) and stops reading. The sender keeps the rest and
   * sends it to the next listener at this address.
   */
  closing(): void {
    if (this.#closing) return;
    this.#deliver({ kind: FLUSH_MESSAGE, id: ACK_ID });
    this.#closing = true;
  }

  /** Closes the socket once the last ack is written. */
  release(): void {
    this.#peer?.closeAfterWrites();
  }

  /** Lets go of a socket that has closed, and of its buffers with it. */
  forgetClosedPeer(): void {
    if (this.#peer?.closed) this.#peer = undefined;
  }

  #onFrame(type: number, body: Uint8Array) {
    if (this.#closing) return;
    const frame = decodeFrame(type, body);
    switch (frame.type) {
      case RECORD_BATCH:
      case LINE_BATCH:
        return this.#batch(frame.batch);
      case FLUSH:
        return this.#deliver({ kind: FLUSH_MESSAGE, id: frame.id });
      case UNLISTED:
        return this.#deliver({ kind: UNLISTED_MESSAGE, logger: frame.logger, level: frame.level });
      case DROPPED_FRAME:
        this.#countDropped(frame.count);
        return this.#noticeDrops();
      default:
        throw new FrameError("unknown-type", `frame type ${type} from a sender`);
    }
  }

  #batch(batch: RecordBatch | LineBatch) {
    const count = batch.levels.length;
    const end = batch.seq + count;
    this.#queueAck();
    if (end <= this.#next) {
      this.#counters.duplicates += count;
      return;
    }
    if (batch.seq < this.#next) {
      const skip = this.#next - batch.seq;
      this.#counters.duplicates += skip;
      batch = sliceBatch(batch, skip);
    }
    this.#next = end;
    Atomics.add(this.flow, POSTED, batch.levels.length);
    Atomics.add(this.flow, POSTED_BYTES, batch.size);
    this.#deliver(batch);
  }

  // Stops at 2^31 - 1: past it the Int32 counter would turn negative.
  #countDropped(count: number) {
    const total = Math.min(Atomics.load(this.flow, DROPPED) + count, 0x7fff_ffff);
    Atomics.store(this.flow, DROPPED, total);
  }

  #deliver(message: SenderMessage) {
    Atomics.add(this.flow, SENT, 1);
    this.#receive(message);
  }

  // One ack per event-loop turn, after the batches of that turn: the flush
  // it asks for writes them out first.
  #queueAck() {
    if (this.#ackQueued) return;
    this.#ackQueued = true;
    setTimeout(this.#ack, 0);
  }

  #ack = () => {
    this.#ackQueued = false;
    if (!this.#closing && this.connected) this.#deliver({ kind: FLUSH_MESSAGE, id: ACK_ID });
  };
}

/** The batch without its first `skip` records (already dispatched). */
export function sliceBatch<B extends RecordBatch | LineBatch>(batch: B, skip: number): B {
  const { ends } = batch;
  if (batch.kind === LINES) {
    const from = ends[skip - 1] + 1;
    const levels = batch.levels.subarray(skip);
    return {
      ...batch,
      seq: batch.seq + skip,
      levels,
      ends: ends.subarray(skip).map((end) => end - from),
      text: batch.text.slice(from),
      size: Math.max(0, batch.size - from),
      minLevel: Math.min(...levels),
    };
  }
  const records = batch as RecordBatch;
  const from = ends[skip - 1];
  const argAt: number[] = [];
  const args: unknown[][] = [];
  records.argAt.forEach((at, i) => {
    if (at < skip) return;
    argAt.push(at - skip);
    args.push(records.args[i]);
  });
  return {
    ...records,
    seq: batch.seq + skip,
    levels: batch.levels.subarray(skip),
    ends: ends.subarray(skip).map((end) => end - from),
    text: batch.text.slice(from),
    size: Math.max(0, batch.size - from),
    times: records.times.subarray(skip),
    loggerAt: records.loggerAt.subarray(skip),
    argAt,
    args,
  } as B;
}
