// The connections a SyslogHandler sends over: TCP and TLS streams with
// RFC 6587 octet counting ("<bytes> <message>"), and UDP datagrams
// (RFC 5426, one message each). RELP is in _relp.ts.
import { createSocket, type Socket } from "node:dgram";
import type { ForwardingBuffer } from "./_forwarding_buffer.ts";

/** Where to connect, and how long to try. */
export interface Endpoint {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** PEM CA certificates for TLS; the system's roots when absent. */
  caCerts?: string[];
}

/** What a link tells its handler, from its read side. */
export interface LinkEvents {
  /** Something changed (an acknowledgement, the peer going away): look again. */
  wake(): void;
}

/** One connection to the receiver, as the handler's writer uses it. */
export interface Link {
  /** Set once the link is broken (peer closed, read or write error); it is then closed. */
  readonly failure: Error | undefined;
  /** Whether `send()` may be called now (RELP: the window has room). */
  readonly ready: boolean;
  /** Whether the receiver acknowledges: then messages are released on acks, not on `send()`. */
  readonly acknowledges: boolean;
  /**
   * Sends some unsent messages from `buffer` (as many as one write holds)
   * and moves its cursor past them; returns how many. Throws when the
   * connection fails (they stay unsent then).
   */
  send(buffer: ForwardingBuffer): Promise<number>;
  /** Ends the session politely where the protocol has a way (RELP), within `deadline` (epoch ms). */
  end(deadline: number): Promise<void>;
  /** Closes at once. Idempotent. */
  close(): void;
}

/**
 * Connects TCP or TLS, giving up after `connectTimeoutMs`. For TLS the
 * deadline covers the handshake too: `Deno.connectTls()` resolves once TCP
 * is up, and a peer that accepts but never speaks TLS would stall it forever.
 */
export async function connectStream(endpoint: Endpoint, tls: boolean): Promise<Deno.Conn> {
  const { host: hostname, port, caCerts, connectTimeoutMs } = endpoint;
  const dialing = tls
    ? Deno.connectTls({ hostname, port, caCerts })
    : Deno.connect({ hostname, port });
  let handshaking = false;
  const connecting = dialing.then(async (conn) => {
    if (tls) {
      handshaking = true;
      await (conn as Deno.TlsConn).handshake();
    }
    return conn;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(timeoutMessage(handshaking, connectTimeoutMs))),
      connectTimeoutMs,
    );
    Deno.unrefTimer(timer!);
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    if (!tls) (conn as Deno.TcpConn).setNoDelay(true);
    // An idle connection must not keep a finished program alive; pending
    // reads are all it would hold, writes are short.
    conn.unref();
    return conn;
  } catch (error) {
    // The connection, made or still to come, is closed, not leaked; that
    // also ends a handshake in progress.
    dialing.then(closeQuietly, () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function timeoutMessage(handshaking: boolean, ms: number): string {
  return handshaking
    ? `the receiver accepted the TCP connection but did not complete a TLS handshake within ` +
      `${ms} ms (connectTimeoutMs); check that this port speaks TLS`
    : `no connection within ${ms} ms (connectTimeoutMs)`;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Writes all of `bytes`, however many calls that takes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** The most bytes of frames put into one write. */
export const WRITE_BYTES = 256 * 1024;

/**
 * Encodes frames for the next `count` unsent messages of `buffer`, each as
 * `header(k) + message + trailer`, into one reused byte array. Headers and
 * trailers are ASCII, and the buffer knows each message's UTF-8 size, so
 * the total is exact before encoding, and the whole batch is one string
 * encoded once.
 */
export class FrameEncoder {
  #bytes = new Uint8Array(WRITE_BYTES + 64);
  readonly #encoder = new TextEncoder();

  encode(
    buffer: ForwardingBuffer,
    maxCount: number,
    header: (k: number, bytes: number) => string,
    trailer: string,
  ): { frames: Uint8Array; count: number } {
    let text = "";
    let total = 0;
    let count = 0;
    const limit = Math.min(maxCount, buffer.unsent);
    while (count < limit) {
      const size = buffer.unsentBytes(count);
      const head = header(count, size);
      const frame = head.length + size + trailer.length;
      if (count > 0 && total + frame > WRITE_BYTES) break;
      text += head + buffer.unsentMessage(count) + trailer;
      total += frame;
      count++;
    }
    if (total > this.#bytes.length) this.#bytes = new Uint8Array(total);
    const { written } = this.#encoder.encodeInto(text, this.#bytes);
    return { frames: this.#bytes.subarray(0, written), count };
  }
}

/**
 * What the links without acknowledgements (TCP, TLS, UDP) share: a failure
 * noticed once, which closes the link and wakes the writer, and a send that
 * counts messages as sent only once the OS has taken them.
 */
abstract class UnacknowledgedLink implements Link {
  readonly acknowledges = false;
  readonly ready = true;
  #failure: Error | undefined;
  #closed = false;
  readonly #events: LinkEvents;

  constructor(events: LinkEvents) {
    this.#events = events;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  abstract send(buffer: ForwardingBuffer): Promise<number>;

  end(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.release();
    } catch { /* already closed */ }
  }

  /** Closes the socket. */
  protected abstract release(): void;

  /** Waits for `writing`, then marks `count` messages sent; a failure fails the link. */
  protected async sent(buffer: ForwardingBuffer, count: number, writing: Promise<unknown>) {
    try {
      await writing;
    } catch (error) {
      this.fail(asError(error));
      throw error;
    }
    buffer.markSent(count);
    return count;
  }

  protected fail(error: Error): void {
    if (this.#closed) return;
    this.#failure ??= error;
    this.close();
    this.#events.wake();
  }
}

/** A TCP or TLS connection with octet-counted framing (RFC 6587 section 3.4.1, RFC 5425). */
export class StreamLink extends UnacknowledgedLink {
  #conn: Deno.Conn;
  readonly #encoder = new FrameEncoder();

  constructor(conn: Deno.Conn, events: LinkEvents) {
    super(events);
    this.#conn = conn;
    this.#watch();
  }

  send(buffer: ForwardingBuffer): Promise<number> {
    const { frames, count } = this.#encoder.encode(
      buffer,
      Infinity,
      (_, bytes) => `${bytes} `,
      "",
    );
    return this.sent(buffer, count, writeAll(this.#conn, frames));
  }

  protected release(): void {
    this.#conn.close();
  }

  // Syslog receivers never send on the stream; reading is how a peer that
  // went away (rsyslog restarting) is noticed before the next write goes
  // into a dead socket.
  async #watch() {
    const scratch = new Uint8Array(4_096);
    try {
      while ((await this.#conn.read(scratch)) !== null) { /* ignore what a receiver sends */ }
      this.fail(new Error("the receiver closed the connection"));
    } catch (error) {
      this.fail(asError(error));
    }
  }
}

/** UDP (RFC 5426): one datagram per message, on a connected socket. */
export class UdpLink extends UnacknowledgedLink {
  #socket: Socket;

  private constructor(socket: Socket, events: LinkEvents) {
    super(events);
    this.#socket = socket;
    socket.on("error", (error: Error) => this.fail(error));
  }

  /** Opens a socket connected to the endpoint (so ICMP errors are seen). */
  static connect(endpoint: Endpoint, events: LinkEvents): Promise<UdpLink> {
    const socket = createSocket(endpoint.host.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(endpoint.port, endpoint.host, () => {
        socket.off("error", reject);
        socket.unref();
        resolve(new UdpLink(socket, events));
      });
    });
  }

  send(buffer: ForwardingBuffer): Promise<number> {
    const count = Math.min(buffer.unsent, 256);
    const sends: Promise<void>[] = [];
    for (let k = 0; k < count; k++) {
      const message = buffer.unsentMessage(k);
      sends.push(
        new Promise((resolve, reject) =>
          this.#socket.send(message, (error) => error ? reject(error) : resolve())
        ),
      );
    }
    return this.sent(buffer, count, Promise.all(sends));
  }

  protected release(): void {
    this.#socket.close();
  }
}

/** Anything thrown, as an Error. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
