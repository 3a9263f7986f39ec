// A RELP client (rsyslog's Reliable Event Logging Protocol, as librelp and
// imrelp speak it). Every frame is
//
//     TXNR SP COMMAND SP DATALEN [SP DATA] LF
//
// The client opens with "open" and its offers (relp_version, relp_software,
// commands=syslog), sends each message as a "syslog" command with the next
// transaction number, and the server answers each with "rsp" carrying the
// same number and "200 OK" (or an error code). Up to `window` frames may be
// unanswered at once. Transaction numbers are per session: after a
// reconnect, the messages still unanswered are sent again with new numbers,
// so a message the server took just before it went away can arrive twice,
// never zero times. The server can end a session with "serverclose" (txnr 0).
import type { ForwardingBuffer } from "./_forwarding_buffer.ts";
import {
  asError,
  connectStream,
  type Endpoint,
  FrameEncoder,
  type Link,
  type LinkEvents,
  writeAll,
} from "./_syslog_transport.ts";

/** The largest transaction number; the next one is 1 again (0 is the server's). */
const MAX_TXNR = 999_999_999;
const SOFTWARE = "workerlog,0.1.0,https://jsr.io/@workerlog/workerlog";
const OFFERS = `relp_version=0\nrelp_software=${SOFTWARE}\ncommands=syslog`;

/** What a RELP link tells its handler beyond a wake. */
export interface RelpEvents extends LinkEvents {
  /** The oldest message in flight was answered: `ok` for "200", else the server's answer. */
  answered(ok: boolean, answer: string): void;
}

/** One RELP frame as read. */
interface Frame {
  txnr: number;
  command: string;
  data: string;
}

function nextTxnr(txnr: number): number {
  return txnr === MAX_TXNR ? 1 : txnr + 1;
}

/** A RELP session over TCP. */
export class RelpLink implements Link {
  readonly acknowledges = true;
  readonly #conn: Deno.Conn;
  readonly #events: RelpEvents;
  readonly #window: number;
  readonly #buffer: ForwardingBuffer;
  readonly #encoder = new FrameEncoder();
  #failure: Error | undefined;
  #closed = false;
  /** The txnr of the next frame to send. */
  #next = 1;
  /** The txnr of the oldest message in flight (the buffer's head). */
  #oldest = 2;
  /** Answers that came before those of older frames (RELP allows any order). */
  #early = new Map<number, string>();
  /** Waiting for the answer to one command of ours (open, close). */
  #awaiting: { txnr: number; resolve: (data: string) => void } | undefined;

  private constructor(
    conn: Deno.Conn,
    buffer: ForwardingBuffer,
    window: number,
    events: RelpEvents,
  ) {
    this.#conn = conn;
    this.#buffer = buffer;
    this.#window = window;
    this.#events = events;
    this.#read();
  }

  /**
   * Connects and opens a session: sends the offers and waits (up to the
   * connect timeout) for "200 OK" with `commands` including syslog. The
   * buffer's messages in flight must have been rewound: this session
   * numbers from its first unsent one.
   */
  static async connect(
    endpoint: Endpoint,
    buffer: ForwardingBuffer,
    window: number,
    events: RelpEvents,
  ): Promise<RelpLink> {
    const conn = await connectStream(endpoint, false);
    const link = new RelpLink(conn, buffer, window, events);
    try {
      const answer = await link.#command("open", OFFERS, Date.now() + endpoint.connectTimeoutMs);
      if (!answer.startsWith("200")) {
        throw new Error(`the RELP server refused the session: ${JSON.stringify(answer)}`);
      }
      if (!/^commands=.*\bsyslog\b/m.test(answer)) {
        throw new Error(
          `the RELP server does not offer the syslog command: ${JSON.stringify(answer)}`,
        );
      }
      link.#oldest = link.#next;
      return link;
    } catch (error) {
      link.close();
      throw error;
    }
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  get ready(): boolean {
    return this.#buffer.inFlight < this.#window;
  }

  async send(buffer: ForwardingBuffer): Promise<number> {
    const first = this.#next;
    let txnr = first;
    const { frames, count } = this.#encoder.encode(
      buffer,
      this.#window - buffer.inFlight,
      (k, bytes) => {
        txnr = k === 0 ? first : nextTxnr(txnr);
        return `${txnr} syslog ${bytes} `;
      },
      "\n",
    );
    // Numbered before the write: an answer can come before write() returns.
    for (let k = 0; k < count; k++) this.#next = nextTxnr(this.#next);
    buffer.markSent(count);
    try {
      await writeAll(this.#conn, frames);
    } catch (error) {
      this.#fail(asError(error));
      throw error;
    }
    return count;
  }

  /** Sends "close" and waits for its answer, until `deadline`; then closes. */
  async end(deadline: number): Promise<void> {
    try {
      if (this.#failure === undefined) await this.#command("close", "", deadline);
    } catch { /* closing anyway */ }
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  // Sends one command frame of ours and resolves with the answer's data.
  async #command(command: string, data: string, deadline: number): Promise<string> {
    const txnr = this.#next;
    this.#next = nextTxnr(txnr);
    const answered = new Promise<string>((resolve) => this.#awaiting = { txnr, resolve });
    const bytes = new TextEncoder().encode(
      data === "" ? `${txnr} ${command} 0\n` : `${txnr} ${command} ${utf8Bytes(data)} ${data}\n`,
    );
    await writeAll(this.#conn, bytes);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.#failure ?? new Error(`no answer to RELP ${command} in time`)),
        Math.max(0, deadline - Date.now()),
      );
      Deno.unrefTimer(timer!);
    });
    const failed = new Promise<never>((_, reject) => this.#onFailure = reject);
    try {
      return await Promise.race([answered, late, failed]);
    } finally {
      clearTimeout(timer);
      this.#awaiting = undefined;
      this.#onFailure = undefined;
    }
  }

  #onFailure: ((error: Error) => void) | undefined;

  async #read() {
    const parser = new FrameParser();
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await this.#conn.read(chunk);
        if (read === null) throw new Error("the RELP server closed the connection");
        parser.push(chunk.subarray(0, read));
        for (let frame = parser.next(); frame !== undefined; frame = parser.next()) {
          this.#receive(frame);
        }
        this.#events.wake(); // once per read, not per answer
      }
    } catch (error) {
      this.#fail(asError(error));
    }
  }

  #receive(frame: Frame) {
    if (frame.command === "serverclose") {
      throw new Error("the RELP server ended the session (serverclose)");
    }
    if (frame.command !== "rsp") {
      throw new Error(`unexpected RELP command from the server: ${JSON.stringify(frame.command)}`);
    }
    if (this.#awaiting?.txnr === frame.txnr) {
      this.#awaiting.resolve(frame.data);
      return;
    }
    const inFlight = this.#buffer.inFlight;
    const offset = (frame.txnr - this.#oldest + MAX_TXNR) % MAX_TXNR;
    if (offset >= inFlight) {
      throw new Error(`RELP answer for transaction ${frame.txnr}, which is not in flight`);
    }
    if (offset > 0) {
      this.#early.set(frame.txnr, frame.data);
      return;
    }
    this.#answer(frame.data);
    while (this.#early.size > 0 && this.#early.has(this.#oldest)) {
      const data = this.#early.get(this.#oldest)!;
      this.#early.delete(this.#oldest);
      this.#answer(data);
    }
  }

  #answer(data: string) {
    this.#oldest = nextTxnr(this.#oldest);
    this.#events.answered(data.startsWith("200"), data);
  }

  #fail(error: Error) {
    if (this.#closed) return;
    this.#failure ??= error;
    this.#onFailure?.(error);
    this.close();
    this.#events.wake();
  }
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

const SP = 0x20;
const LF = 0x0a;
/** Answers are short; anything claiming more is not a RELP server. */
const MAX_ANSWER_BYTES = 128 * 1024;

/** Splits the bytes a RELP server sends into frames. */
export class FrameParser {
  #bytes = new Uint8Array(0);
  #start = 0;
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array) {
    const rest = this.#bytes.subarray(this.#start);
    const joined = new Uint8Array(rest.length + chunk.length);
    joined.set(rest);
    joined.set(chunk, rest.length);
    this.#bytes = joined;
    this.#start = 0;
  }

  /** The next whole frame, or undefined until more bytes come. Throws on a malformed one. */
  next(): Frame | undefined {
    const bytes = this.#bytes;
    let at = this.#start;
    const txnrEnd = bytes.indexOf(SP, at);
    if (txnrEnd < 0) return this.#incomplete(bytes.length - at);
    const txnr = this.#number(bytes, at, txnrEnd, "transaction number");
    at = txnrEnd + 1;
    const commandEnd = bytes.indexOf(SP, at);
    if (commandEnd < 0) return this.#incomplete(bytes.length - at);
    const command = this.#decoder.decode(bytes.subarray(at, commandEnd));
    at = commandEnd + 1;
    let lengthEnd = at;
    while (lengthEnd < bytes.length && bytes[lengthEnd] !== SP && bytes[lengthEnd] !== LF) {
      lengthEnd++;
    }
    if (lengthEnd === bytes.length) return this.#incomplete(lengthEnd - at);
    const length = this.#number(bytes, at, lengthEnd, "data length");
    if (length > MAX_ANSWER_BYTES) throw new Error(`RELP frame of ${length} bytes: too long`);
    let dataStart = lengthEnd;
    if (length > 0) {
      if (bytes[lengthEnd] !== SP) throw new Error("RELP frame without the space before its data");
      dataStart = lengthEnd + 1;
    }
    const trailer = dataStart + length;
    if (trailer >= bytes.length) return undefined;
    if (bytes[trailer] !== LF) throw new Error("RELP frame without its trailing LF");
    this.#start = trailer + 1;
    return { txnr, command, data: this.#decoder.decode(bytes.subarray(dataStart, trailer)) };
  }

  #incomplete(pending: number): undefined {
    if (pending > 32) throw new Error("malformed RELP frame header");
    return undefined;
  }

  #number(bytes: Uint8Array, start: number, end: number, what: string): number {
    if (end === start || end - start > 9) throw new Error(`malformed RELP ${what}`);
    let value = 0;
    for (let i = start; i < end; i++) {
      const digit = bytes[i] - 0x30;
      if (digit < 0 || digit > 9) throw new Error(`malformed RELP ${what}`);
      value = value * 10 + digit;
    }
    return value;
  }
}
