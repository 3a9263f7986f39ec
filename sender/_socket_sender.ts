/**
 * The sending half for another process: what a QueueHandler posts to (its
 * `connection.port`), carried over a socket as frames (common/_frames.ts).
 *
 * Every batch is kept, encoded, until the listener acknowledges it (a
 * cumulative ACK: every seq below `next` is written). A socket that breaks
 * is reopened with backoff, also to a listener restarted at the same
 * address, and what was not acknowledged is sent again; the listener drops
 * what it already has. What is kept is bounded: the QueueHandler's byte cap
 * counts it (posted minus acknowledged), and at the cap it drops and counts,
 * and the count reaches the listener as one notice once it is back.
 *
 * Nothing here keeps a finished program alive (the socket and the timers
 * are unref'd) except a pending `flush()`, which waits for the listener.
 *
 * @module
 */
import type { LevelName } from "@std/log";
import type { SocketAddress } from "../common/_address.ts";
import {
  CLOSED,
  createFlow,
  DROPPED,
  HANDLED,
  HANDLED_BYTES,
  type PostTarget,
} from "../common/_flow.ts";
import {
  ACK,
  concatFrames,
  decodeFrame,
  DROPPED as DROPPED_FRAME,
  FLUSH,
  FLUSHED,
  type Frame,
  FrameEncoder,
  FrameReader,
  newSession,
  POST_NOW,
  PROTOCOL_VERSION,
  REFUSED,
  WELCOME,
} from "../common/_frames.ts";
import {
  CLOSING as CLOSING_MESSAGE,
  FLUSH as FLUSH_MESSAGE,
  FLUSHED as FLUSHED_MESSAGE,
  type LineBatch,
  LINES,
  POST_NOW as POST_NOW_MESSAGE,
  type RecordBatch,
  RECORDS,
  UNLISTED as UNLISTED_MESSAGE,
} from "../common/_wire.ts";
import type { ProcessHandlerStats } from "./process_handler.ts";
import { FramePages, type StoredFrame } from "./_frame_pages.ts";

/** How long a listener may take to answer a hello. */
const WELCOME_TIMEOUT_MS = 10_000;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;
/** Batches are written in chunks of about this size. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/** What a SocketSender needs. */
export interface SocketSenderOptions {
  address: SocketAddress;
  token: string;
  /** The sender's name, as records carry it. */
  name: string;
  /** Batches that encode to more than this are dropped (the listener would refuse them). */
  maxFrameBytes: number;
  /** Extra CA certificates (PEM) for "tls". */
  caCerts?: string[];
}

/** A sender's counters: the handler's, but for what the handler counts itself. */
export type SocketSenderStats = Omit<ProcessHandlerStats, "dropped">;

interface Entry {
  end: number;
  count: number;
  size: number;
  frame: StoredFrame;
}

type Posted =
  | RecordBatch
  | LineBatch
  | { kind: typeof FLUSH_MESSAGE; id: number }
  | { kind: typeof UNLISTED_MESSAGE; logger: string; level: LevelName };

/** The QueueHandler's port for a listener in another process. */
export class SocketSender extends EventTarget implements PostTarget {
  /** The flow counters the QueueHandler caps itself by (never shared with another thread). */
  readonly flow: Int32Array = createFlow();
  /**
   * Called when a connect finds nothing listening at the address (refused,
   * or no socket file there), before the retry is scheduled: e.g. to elect
   * a new listener (election/).
   */
  onUnreachable: (() => void) | undefined;
  readonly #options: SocketSenderOptions;
  readonly #encoder = new FrameEncoder();
  readonly #pages = new FramePages(this.#encoder);
  readonly #session = newSession();
  // Unacknowledged batches: #entries[i] has the absolute index #base + i.
  #entries: Entry[] = [];
  #base = 0;
  #written = 0;
  #unackedBytes = 0;
  #unackedRecords = 0;
  #control: Uint8Array[] = [];
  #postedEnd = 0;
  #acked = 0;
  #flushes: { id: number; target: number }[] = [];
  #unlisted = new Map<string, LevelName>();
  #droppedReported = 0;
  #everSent = false;
  #conn: Deno.Conn | undefined;
  // The socket opened and not yet welcomed: a flush() in between must keep
  // it alive too, or the program can end while it waits for the WELCOME.
  #opening: Deno.Conn | undefined;
  #connecting = false;
  #writing = false;
  #closed = false;
  #backoff = FIRST_BACKOFF_MS;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #connections = 0;
  #refusal: string | undefined;
  #refusalReported = false;

  /** Starts connecting in the background. */
  constructor(options: SocketSenderOptions) {
    super();
    this.#options = options;
    this.#connect();
  }

  /** Takes what the QueueHandler posts: batches, flush requests, unlisted-logger notices. */
  postMessage(message: unknown): void {
    const posted = message as Posted;
    switch (posted.kind) {
      case RECORDS:
      case LINES:
        return this.#enqueue(posted);
      case FLUSH_MESSAGE:
        return this.#flushRequested(posted.id);
      case UNLISTED_MESSAGE:
        this.#unlisted.set(posted.logger, posted.level);
        if (this.#conn) this.#sendControl(this.#encoder.unlisted(posted.logger, posted.level));
    }
  }

  /** The counters. */
  stats(): SocketSenderStats {
    return {
      connected: this.#conn !== undefined,
      connections: this.#connections,
      unacknowledgedBatches: this.#entries.length,
      unacknowledgedRecords: this.#unackedRecords,
      unacknowledgedBytes: this.#unackedBytes,
      acknowledged: this.#acked,
      refusal: this.#refusal,
    };
  }

  /**
   * Closes the socket and stops reconnecting; pending flushes resolve, and
   * what the handler logs from now on is counted as rejected.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#drop();
    try {
      this.#opening?.close(); // #connect() sees it fail and stops
    } catch {
      // Closed already.
    }
    Atomics.store(this.flow, CLOSED, 1);
    this.#flushes = [];
    this.dispatchEvent(new MessageEvent("message", { data: { kind: CLOSING_MESSAGE } }));
  }

  #enqueue(batch: RecordBatch | LineBatch) {
    const count = batch.levels.length;
    const frame = this.#pages.store(batch, this.#options.maxFrameBytes);
    if (frame === undefined) {
      // The listener would refuse it and disconnect: drop it here, counted.
      Atomics.add(this.flow, DROPPED, count);
      this.#handled(count, batch.size);
      return;
    }
    const end = batch.seq + count;
    this.#entries.push({ end, count, size: batch.size, frame });
    this.#unackedBytes += frame.bytes.length;
    this.#unackedRecords += count;
    this.#postedEnd = end;
    if (this.#conn) this.#write();
  }

  #flushRequested(id: number) {
    if (this.#acked >= this.#postedEnd) return this.#flushed(id);
    this.#flushes.push({ id, target: this.#postedEnd });
    this.#keepAlive(true);
    if (this.#conn) this.#sendControl(this.#encoder.numbers(FLUSH, id));
  }

  #flushed(id: number) {
    queueMicrotask(() =>
      this.dispatchEvent(new MessageEvent("message", { data: { kind: FLUSHED_MESSAGE, id } }))
    );
  }

  // Every seq below `next` is written: forget those batches, let the
  // QueueHandler count them as handled, and resolve the flushes they cover.
  #acknowledge(next: number) {
    if (next <= this.#acked) return;
    this.#acked = next;
    let records = 0;
    let size = 0;
    let trimmed = 0;
    const entries = this.#entries;
    while (trimmed < entries.length && entries[trimmed].end <= next) {
      const entry = entries[trimmed++];
      records += entry.count;
      size += entry.size;
      this.#unackedBytes -= entry.frame.bytes.length;
      this.#pages.release(entry.frame);
    }
    if (trimmed > 0) {
      this.#entries = trimmed === entries.length ? [] : entries.slice(trimmed);
      this.#base += trimmed;
      if (this.#written < this.#base) this.#written = this.#base;
      this.#unackedRecords -= records;
      this.#handled(records, size);
    }
    if (this.#flushes.length > 0) {
      const open = [];
      for (const flush of this.#flushes) {
        if (flush.target <= next) this.#flushed(flush.id);
        else open.push(flush);
      }
      this.#flushes = open;
      if (open.length === 0) this.#keepAlive(false);
    }
    this.#reportDrops();
  }

  #handled(records: number, size: number) {
    Atomics.add(this.flow, HANDLED_BYTES, size);
    Atomics.add(this.flow, HANDLED, records);
  }

  // Records the QueueHandler dropped at the cap reach the listener as a count.
  #reportDrops() {
    const dropped = Atomics.load(this.flow, DROPPED);
    if (dropped === this.#droppedReported || this.#conn === undefined) return;
    this.#sendControl(
      this.#encoder.numbers(DROPPED_FRAME, (dropped - this.#droppedReported) >>> 0),
    );
    this.#droppedReported = dropped;
  }

  #sendControl(frame: Uint8Array) {
    this.#control.push(frame);
    this.#write();
  }

  // One writer at a time: control frames first, then the batches not yet
  // written on this socket, in chunks.
  async #write() {
    if (this.#writing) return;
    this.#writing = true;
    const conn = this.#conn;
    try {
      while (conn !== undefined && conn === this.#conn) {
        let chunk: Uint8Array;
        if (this.#control.length > 0) {
          chunk = concatFrames(this.#control);
          this.#control = [];
        } else {
          const next = this.#nextChunk();
          if (next === undefined) break;
          chunk = next;
          this.#everSent = true;
        }
        for (let at = 0; at < chunk.length;) at += await conn.write(chunk.subarray(at));
      }
    } catch {
      if (conn === this.#conn) this.#lost();
    } finally {
      this.#writing = false;
    }
    // Something may have come in for a newer socket while this one failed.
    if (this.#conn !== undefined && this.#conn !== conn) this.#write();
  }

  // The batches not yet written on this socket, as one piece: the frames
  // that follow each other on one page (up to WRITE_CHUNK_BYTES), read from
  // the page itself, without a copy.
  #nextChunk(): Uint8Array | undefined {
    const entries = this.#entries;
    if (this.#written - this.#base >= entries.length) return undefined;
    const first = entries[this.#written++ - this.#base].frame.bytes;
    let end = first.byteOffset + first.length;
    while (
      this.#written - this.#base < entries.length && end - first.byteOffset < WRITE_CHUNK_BYTES
    ) {
      const next = entries[this.#written - this.#base].frame.bytes;
      if (next.buffer !== first.buffer || next.byteOffset !== end) break;
      end += next.length;
      this.#written++;
    }
    return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
  }

  async #connect() {
    if (this.#closed || this.#connecting || this.#conn) return;
    this.#connecting = true;
    let conn: Deno.Conn | undefined;
    try {
      conn = await this.#open();
      this.#opening = conn;
      this.#keepAlive(this.#flushes.length > 0);
      const reader = new FrameReader(this.#options.maxFrameBytes);
      reader.helloOnly = false;
      const hello = this.#encoder.hello({
        version: PROTOCOL_VERSION,
        token: this.#options.token,
        name: this.#options.name,
        pid: Deno.pid,
        session: this.#session,
        resuming: this.#everSent,
      });
      for (let at = 0; at < hello.length;) at += await conn.write(hello.subarray(at));
      const answer = await readFrame(conn, reader, WELCOME_TIMEOUT_MS);
      if (answer?.type === REFUSED) {
        this.#refused(answer.reason);
        conn.close();
      } else if (answer?.type === WELCOME) {
        this.#welcomed(conn, reader, answer.next);
      } else {
        conn.close();
      }
    } catch (error) {
      // Without the permission to connect, no retry can succeed: say so once.
      if (error instanceof Deno.errors.NotCapable) this.#refused(error.message);
      else if (
        this.#options.address.transport === "tls" && error instanceof Deno.errors.InvalidData
      ) {
        // connectTls() resolves before the handshake: an untrusted
        // certificate fails the hello's write, and so will every retry.
        this.#refused(
          `the TLS handshake failed (${error.message}): pass the CA that signed the listener's ` +
            `certificate as caCerts, and connect to a name the certificate holds`,
        );
      } else if (
        error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.NotFound
      ) this.onUnreachable?.();
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
    } finally {
      this.#opening = undefined;
      this.#connecting = false;
    }
    if (this.#conn === undefined) this.#retryLater();
  }

  #open(): Promise<Deno.Conn> {
    const address = this.#options.address;
    if (address.transport === "unix") {
      return Deno.connect({ transport: "unix", path: address.path });
    }
    if (address.transport === "tcp") {
      return Deno.connect({ hostname: address.hostname, port: address.port });
    }
    return Deno.connectTls({
      hostname: address.hostname,
      port: address.port,
      ...(this.#options.caCerts ? { caCerts: this.#options.caCerts } : {}),
    });
  }

  #welcomed(conn: Deno.Conn, reader: FrameReader, next: number) {
    if (this.#closed) return conn.close();
    this.#conn = conn;
    this.#connections++;
    this.#backoff = FIRST_BACKOFF_MS;
    this.#refusal = undefined;
    this.#refusalReported = false;
    this.#written = this.#base;
    this.#pages.retire();
    this.#control = [];
    this.#acknowledge(next);
    for (const [logger, level] of this.#unlisted) {
      this.#control.push(this.#encoder.unlisted(logger, level));
    }
    for (const { id } of this.#flushes) this.#control.push(this.#encoder.numbers(FLUSH, id));
    // Flushes may have come or gone since the socket opened.
    this.#keepAlive(this.#flushes.length > 0);
    this.#reportDrops();
    this.#write();
    this.#read(conn, reader);
  }

  async #read(conn: Deno.Conn, reader: FrameReader) {
    try {
      while (conn === this.#conn) {
        const frame = await readFrame(conn, reader);
        if (frame === undefined) break;
        if (frame.type === ACK || frame.type === FLUSHED) this.#acknowledge(frame.next);
        else if (frame.type === POST_NOW) {
          this.dispatchEvent(new MessageEvent("message", { data: { kind: POST_NOW_MESSAGE } }));
        }
      }
    } catch {
      // A broken socket or a garbled frame: reconnect.
    }
    if (conn === this.#conn) this.#lost();
  }

  #refused(reason: string) {
    this.#refusal = reason;
    this.#backoff = MAX_BACKOFF_MS;
    if (this.#refusalReported) return;
    this.#refusalReported = true;
    console.error(`workerlog: the listener refused ${this.#options.name}: ${reason}`);
  }

  #lost() {
    this.#drop();
    this.#retryLater();
  }

  #drop() {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // Closed already.
    }
  }

  #retryLater() {
    if (this.#closed || this.#retry !== undefined) return;
    const delay = this.#backoff * (0.75 + Math.random() / 2);
    this.#backoff = Math.min(MAX_BACKOFF_MS, this.#backoff * 2);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, delay);
    if (this.#flushes.length === 0) Deno.unrefTimer(this.#retry);
  }

  // While a flush() waits, the socket (welcomed or still waiting for its
  // WELCOME) and the retry timer keep the program alive; otherwise none does.
  #keepAlive(alive: boolean) {
    for (const conn of [this.#conn, this.#opening]) {
      if (alive) conn?.ref();
      else conn?.unref();
    }
    if (this.#retry !== undefined) {
      if (alive) Deno.refTimer(this.#retry);
      else Deno.unrefTimer(this.#retry);
    }
  }
}

// The next frame from the socket, or undefined when it closes (or the
// timeout passes: the socket is then closed).
async function readFrame(
  conn: Deno.Conn,
  reader: FrameReader,
  timeoutMs?: number,
): Promise<Frame | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => conn.close(), timeoutMs);
    Deno.unrefTimer(timer);
  }
  try {
    for (;;) {
      const next = reader.next();
      if (next !== undefined) return decodeFrame(next.type, next.body);
      const count = await conn.read(reader.space());
      if (count === null) return undefined;
      reader.wrote(count);
    }
  } finally {
    clearTimeout(timer);
  }
}
