/**
 * One socket a process connected to the listener: reading it into frames,
 * writing the listener's small replies, and the times the deadlines look at.
 * What the frames mean is the server's (before the hello) and the link's
 * (after it).
 *
 * @module
 */
import { concatFrames, FrameReader } from "../common/_frames.ts";

/**
 * Reply bytes not yet written to a peer (queued, or being written to a
 * socket that does not take them because the peer does not read): past
 * this the peer is closed. A reader answers far below it: replies are a few
 * bytes per batch or flush.
 */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;

/**
 * A peer that is to be closed once its last replies are written (a REFUSED
 * frame, the last ack) is closed this long after at the latest: one that
 * reads takes those few bytes at once, and one that does not would otherwise
 * keep its socket, and the process, open for ever.
 */
const LAST_WRITE_DEADLINE_MS = 1_000;

/** A connected socket, framed. */
export class Peer {
  readonly conn: Deno.Conn;
  readonly reader: FrameReader;
  /** When it connected (ms). */
  readonly connectedAt: number = Date.now();
  /** Bytes it has sent. */
  bytesIn = 0;
  /** Since when a frame has been arriving without ending (ms), or 0. */
  partialSince = 0;
  /** Called for each whole frame, synchronously, in order. */
  onFrame: (type: number, body: Uint8Array) => void = () => {};
  /** Whether it was closed because it let MAX_QUEUED_REPLY_BYTES of replies pile up. */
  unreadReplies = false;
  #closed = false;
  readonly #closedPromise = Promise.withResolvers<void>();
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #closeWhenWritten = false;
  #lastWriteDeadline: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.Conn, maxFrameBytes: number) {
    this.conn = conn;
    this.reader = new FrameReader(maxFrameBytes);
  }

  /** Whether it has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once it has been closed (after its last frame was read, or refused). */
  get whenClosed(): Promise<void> {
    return this.#closedPromise.promise;
  }

  /**
   * Reads until the peer closes (resolves) or sends a frame that cannot be
   * cut or decoded (rejects with that FrameError). Other read errors (the
   * socket closed under it) end it quietly. Once closeAfterWrites() was
   * called it reads no further frames, and resolves when the socket closes.
   */
  async pump(): Promise<void> {
    await this.#readFrames();
    if (this.#closeWhenWritten) await this.whenClosed;
  }

  async #readFrames() {
    const reader = this.reader;
    while (this.#reading) {
      let count: number | null;
      try {
        count = await this.conn.read(reader.space());
      } catch {
        return;
      }
      if (count === null || !this.#reading) return;
      this.bytesIn += count;
      reader.wrote(count);
      let frames = 0;
      for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
        frames++;
        this.onFrame(frame.type, frame.body);
        if (!this.#reading) return;
      }
      if (!reader.partial) this.partialSince = 0;
      else if (frames > 0 || this.partialSince === 0) this.partialSince = Date.now();
    }
  }

  get #reading(): boolean {
    return !this.#closed && !this.#closeWhenWritten;
  }

  /** Queues a frame to write; a peer that lets replies pile up is closed. */
  send(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (this.#outBytes > MAX_QUEUED_REPLY_BYTES) {
      this.unreadReplies = true;
      return this.close();
    }
    if (!this.#writing) this.#write();
  }

  /**
   * Stops reading, and closes once what is queued has been written (at once
   * if nothing is), or at LAST_WRITE_DEADLINE_MS whatever is still unwritten.
   */
  closeAfterWrites(): void {
    if (!this.#writing) return this.close();
    if (this.#closeWhenWritten) return;
    this.#closeWhenWritten = true;
    this.#lastWriteDeadline = setTimeout(() => this.close(), LAST_WRITE_DEADLINE_MS);
    // Unref'd: the pending write holds the process while it lasts, the timer need not.
    Deno.unrefTimer(this.#lastWriteDeadline);
  }

  /** Closes the socket now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#lastWriteDeadline);
    this.#closedPromise.resolve();
    this.#out = [];
    try {
      this.conn.close();
    } catch {
      // Already closed by the other side.
    }
  }

  async #write() {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const chunk = concatFrames(this.#out);
        this.#out = [];
        await writeAll(this.conn, chunk);
        this.#outBytes -= chunk.length; // counted until written, not only until queued
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
      if (this.#closeWhenWritten) this.close();
    }
  }
}

/** Writes every byte (a socket write may take only part). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}
