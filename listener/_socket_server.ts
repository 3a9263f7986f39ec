/**
 * Listening for other processes: a Unix socket (the default, in a directory
 * only the owner can enter), TCP on loopback, or TLS. Every peer must open
 * with a hello that carries the protocol version and the token (over TLS,
 * after a handshake); until then it is one of a bounded number of pending
 * peers, with a deadline. A peer that fails the handshake, sends garbage,
 * claims a frame over the limit, has a wrong token or version, trickles,
 * stays silent or does not read the replies is refused, closed and counted,
 * and touches no other sender. An accepted sender is handed to its
 * SocketLink; at most `maxSenders` are connected at once.
 *
 * What one peer can make the listener hold is bounded: its read buffer (one
 * frame, at most `maxFrameBytes`), the replies it has not read (see
 * _socket_peer.ts), and nothing else: its frames are dispatched to the
 * handlers as they are read, and the next read waits until they have been,
 * so a peer that sends faster than the handlers write fills the socket's
 * buffers, not the listener's memory.
 *
 * @module
 */
import type { LevelName } from "@std/log";
import {
  ADDRESS_ENV,
  ensurePrivateDirectory,
  formatAddress,
  LEVEL_ENV,
  type SocketAddress,
  TOKEN_ENV,
} from "../common/_address.ts";
import { checkBoolean, checkToken, checkWholeNumber } from "../common/_options.ts";
import {
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  FrameEncoder,
  FrameError,
  HELLO,
  type Hello,
  PROTOCOL_VERSION,
  randomHex,
} from "../common/_frames.ts";
import { InvalidOptionError, ListenerStateError } from "../errors.ts";
import { type LinkCounters, SocketLink } from "./_socket_link.ts";
import { Peer } from "./_socket_peer.ts";

/** A peer must have sent a valid hello this long after it connected. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** A frame that has begun must end within this time. */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** At most this many peers may be connected without a hello yet. */
export const DEFAULT_MAX_PENDING_PEERS = 64;
/** At most this many senders may be connected at once. */
export const DEFAULT_MAX_SENDERS = 1024;
/** After an accept() that failed (e.g. out of file descriptors), wait this long. */
const ACCEPT_RETRY_MS = 50;

/**
 * Options of `QueueListener.listen()`.
 *
 * @example A Unix socket at a path you choose, so that a restarted listener has the same address
 * ```ts ignore
 * import { QueueListener, type ListenOptions } from "@workerlog/workerlog";
 *
 * const options: ListenOptions = {
 *   path: "/run/myapp/log.sock", // in a directory only this user can enter
 *   token: Deno.env.get("LOG_TOKEN"),
 * };
 * const { env } = await new QueueListener([]).start().listen(options);
 * ```
 */
export interface ListenOptions {
  /**
   * "unix" (the default): a Unix socket; "tcp": TCP on a loopback address;
   * "tls": TLS, for senders on other hosts (needs `cert` and `key`).
   */
  transport?: "unix" | "tcp" | "tls";
  /**
   * The socket's path (unix). Its directory must be one only this user can
   * enter (mode 0700); it is created so if missing. A socket left there by a
   * listener that was killed is replaced. Default: a fresh directory under
   * the system's temporary directory, removed again by `stop()`.
   */
  path?: string;
  /** The address to listen on (tcp: a loopback address; tls: any). Default "127.0.0.1". */
  hostname?: string;
  /** The port (tcp, tls). Default 0: one the system picks. */
  port?: number;
  /**
   * The certificate chain, PEM text (tls), e.g. `await Deno.readTextFile("server.pem")`.
   * It must name the host the senders connect to (a DNS name or IP address in
   * its subjectAltName).
   */
  cert?: string;
  /** The certificate's private key, PEM text, unencrypted (tls). */
  key?: string;
  /**
   * The secret every sender's hello must carry. Default: 32 random bytes.
   * Pass your own to keep the same one across a restart of the listener.
   */
  token?: string;
  /**
   * The next seq per sender name already in the output, e.g. from
   * `readResumePoints(file)`: after a restart, what a sender resends below it
   * is dropped as already written, so nothing is written twice.
   */
  resume?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Frames longer than this many bytes are refused unread. Default 64 MiB. */
  maxFrameBytes?: number;
  /** A peer must send a valid hello within this time. Default 10 s. */
  helloTimeoutMs?: number;
  /** A frame that has begun must end within this time. Default 30 s. */
  frameTimeoutMs?: number;
  /** At most this many peers without a hello yet; more are refused. Default 64. */
  maxPendingPeers?: number;
  /**
   * At most this many senders connected at once; the hello of one more is
   * refused (it tries again every few seconds). A sender that reconnects
   * does not count twice. Default 1024.
   */
  maxSenders?: number;
  /**
   * Whether the listening socket and the senders' sockets keep the process
   * alive (true, the default, as a server's do). With false they do not:
   * the program ends when nothing else holds it, and must stop() the
   * listener itself first, e.g. at "beforeunload" (as setupSharedLogging()
   * does, so that `deno serve` ends on one SIGTERM).
   */
  keepAlive?: boolean;
}

/**
 * What a child process needs to log into the listener: the address and
 * token, and both (with the listener's lowest level) as environment
 * variables for `new Deno.Command(..., { env })`.
 *
 * @example Start a child that logs into this listener
 * ```ts ignore
 * import { QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const { env } = await listener.listen();
 * await new Deno.Command("deno", { args: ["run", "-A", "child.ts"], env }).output();
 * ```
 */
export interface ListenInfo {
  /** Where the listener listens, e.g. "unix:/tmp/workerlog-abc/listener.sock". */
  address: string;
  /** The token senders must present. */
  token: string;
  /** WORKERLOG_ADDRESS, WORKERLOG_TOKEN and WORKERLOG_LEVEL, for a child's environment. */
  env: Record<string, string>;
}

/**
 * Why a peer was refused: bytes that are no frame ("garbage"), a frame
 * larger than the limit ("too-large"), a wrong token or unknown protocol
 * version, a hello or frame that took too long ("slow") or never came
 * ("silent"), a sender name another live sender uses, too many peers
 * waiting for their hello ("too-many"), as many senders connected as
 * `maxSenders` allows ("too-many-senders"), a frame that does not decode
 * ("malformed"), a failed TLS handshake ("tls": e.g. a sender that does not
 * trust the certificate, or plain TCP to a TLS port), or replies piling up
 * unread ("not-reading").
 *
 * @example Count the refusals by reason
 * ```ts
 * import { QueueListener, type RefusalReason } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const refused: Partial<Record<RefusalReason, number>> = listener.stats().peers?.refusedBy ?? {};
 * console.log(refused.token ?? 0); // 0
 * ```
 */
export type RefusalReason =
  | "garbage"
  | "too-large"
  | "token"
  | "version"
  | "slow"
  | "silent"
  | "name-in-use"
  | "too-many"
  | "too-many-senders"
  | "malformed"
  | "tls"
  | "not-reading";

const REASONS: readonly RefusalReason[] = [
  "garbage",
  "too-large",
  "token",
  "version",
  "slow",
  "silent",
  "name-in-use",
  "too-many",
  "too-many-senders",
  "malformed",
  "tls",
  "not-reading",
];

/**
 * What a listening listener counts about the processes that connect.
 *
 * @example Check that no peer was refused
 * ```ts
 * import type { PeerStats } from "@workerlog/workerlog";
 *
 * function report(peers: PeerStats) {
 *   if (peers.refused > 0) console.warn("refused peers:", peers.refusedBy);
 * }
 * ```
 */
export interface PeerStats {
  /** The address it listens on. */
  address: string;
  /** Senders connected now. */
  connected: number;
  /** Hellos accepted (a sender that reconnects counts again). */
  accepted: number;
  /** Peers refused and closed, for any reason. */
  refused: number;
  /** Peers refused and closed, per reason. */
  refusedBy: Record<RefusalReason, number>;
  /** Records that arrived again after they had been written (resends), dropped. */
  duplicates: number;
}

/** What the server needs from its listener. */
export interface SocketServerHooks {
  /** The lowest level the listener writes, for the children's environment. */
  level(): LevelName;
  /** Makes a Connection for a new sender's link; false when the name is taken. */
  register(link: SocketLink): boolean;
}

/** A listening socket and every peer it accepted. */
export class SocketServer {
  readonly info: ListenInfo;
  readonly #listener: Deno.Listener;
  readonly #ownDirectory: string | undefined;
  readonly #token: Uint8Array;
  readonly #hooks: SocketServerHooks;
  readonly #resume: Map<string, number>;
  readonly #maxFrameBytes: number;
  readonly #helloTimeoutMs: number;
  readonly #frameTimeoutMs: number;
  readonly #maxPendingPeers: number;
  readonly #maxSenders: number;
  readonly #tls: boolean;
  readonly #keepAlive: boolean;
  readonly #links = new Map<string, SocketLink>();
  readonly #pending = new Set<Peer>();
  readonly #senders = new Set<Peer>();
  /** Peers refused with a reason, until it is written (or its deadline passes). */
  readonly #refusing = new Set<Peer>();
  readonly #counters: LinkCounters = { duplicates: 0, malformed: 0 };
  readonly #refusedBy = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<
    RefusalReason,
    number
  >;
  readonly #encoder = new FrameEncoder();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #accepted = 0;
  #closed = false;

  private constructor(
    listener: Deno.Listener,
    address: SocketAddress,
    ownDirectory: string | undefined,
    token: string,
    hooks: SocketServerHooks,
    options: ListenOptions,
  ) {
    this.#listener = listener;
    this.#ownDirectory = ownDirectory;
    this.#token = new TextEncoder().encode(token);
    this.#hooks = hooks;
    // Checked by checkListenOptions() before anything was bound.
    this.#resume = resumePoints(options.resume);
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.#frameTimeoutMs = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.#maxPendingPeers = options.maxPendingPeers ?? DEFAULT_MAX_PENDING_PEERS;
    this.#maxSenders = options.maxSenders ?? DEFAULT_MAX_SENDERS;
    this.#tls = address.transport === "tls";
    this.#keepAlive = options.keepAlive ?? true;
    if (!this.#keepAlive) listener.unref();
    const text = formatAddress(address);
    this.info = {
      address: text,
      token,
      env: { [ADDRESS_ENV]: text, [TOKEN_ENV]: token, [LEVEL_ENV]: hooks.level() },
    };
    // One timer for every deadline of every peer, and it never keeps the
    // process alive by itself.
    const every = Math.max(5, Math.min(this.#helloTimeoutMs, this.#frameTimeoutMs) / 4);
    this.#sweeper = setInterval(this.#sweep, every);
    Deno.unrefTimer(this.#sweeper);
    this.#acceptLoop();
  }

  /** Checks the options, opens the socket and starts accepting. */
  static async open(options: ListenOptions, hooks: SocketServerHooks): Promise<SocketServer> {
    checkListenOptions(options);
    const token = options.token ?? randomHex(32);
    const transport = options.transport ?? "unix";
    if (transport === "unix") {
      const { path, ownDirectory } = await prepareSocketPath(options.path);
      let listener: Deno.Listener;
      try {
        listener = Deno.listen({ transport: "unix", path });
        await Deno.chmod(path, 0o600);
      } catch (error) {
        if (ownDirectory) await Deno.remove(ownDirectory, { recursive: true }).catch(() => {});
        throw error;
      }
      const address: SocketAddress = { transport: "unix", path };
      return new SocketServer(listener, address, ownDirectory, token, hooks, options);
    }
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 0;
    const listener = inUseAsOption(
      hostname,
      port,
      () =>
        transport === "tls"
          ? listenTls(hostname, port, options.cert!, options.key!)
          : Deno.listen({ hostname, port }),
    );
    const bound = (listener.addr as Deno.NetAddr).port;
    const address: SocketAddress = { transport, hostname, port: bound };
    return new SocketServer(listener, address, undefined, token, hooks, options);
  }

  /** The counters. */
  stats(): PeerStats {
    let connected = 0;
    for (const link of this.#links.values()) if (link.connected) connected++;
    const refusedBy = { ...this.#refusedBy, malformed: this.#counters.malformed };
    return {
      address: this.info.address,
      connected,
      accepted: this.#accepted,
      refused: Object.values(refusedBy).reduce((sum, n) => sum + n, 0),
      refusedBy,
      duplicates: this.#counters.duplicates,
    };
  }

  /**
   * Stops accepting and closes the peers still without a hello or being
   * refused; the senders' sockets close with their connections, once their
   * last ack is written or LAST_WRITE_DEADLINE_MS after. Removes the socket
   * (and its directory, if the server made it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const peer of [...this.#pending, ...this.#refusing]) peer.close();
    this.#pending.clear();
    this.#refusing.clear();
    const address = this.info.address;
    if (address.startsWith("unix:")) {
      await Deno.remove(this.#ownDirectory ?? address.slice(5), { recursive: true })
        .catch(() => {});
    }
  }

  async #acceptLoop() {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        if (this.#closed) return;
        // e.g. out of file descriptors: try again soon, without spinning.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#welcome(conn);
    }
  }

  #welcome(conn: Deno.Conn) {
    if (!this.#keepAlive) conn.unref();
    const peer = new Peer(conn, this.#maxFrameBytes);
    if (this.#closed) return peer.close();
    if (this.#pending.size >= this.#maxPendingPeers) return this.#refuse(peer, "too-many");
    this.#pending.add(peer);
    peer.onFrame = (type, body) => this.#hello(peer, type, body);
    this.#serve(peer);
  }

  // Over TLS the handshake first, then the peer's frames until it closes.
  async #serve(peer: Peer) {
    if (this.#tls && !await handshake(peer.conn as Deno.TlsConn)) {
      // Unless the sweep (a deadline) or close() got to it first.
      if (this.#pending.has(peer)) this.#refuse(peer, "tls");
      return;
    }
    try {
      await peer.pump();
    } catch (error) {
      return this.#failed(peer, error);
    }
    if (peer.unreadReplies) this.#refusedBy["not-reading"]++;
    // The peer closed its end (or a read failed): close ours, so that its
    // name is free for its next process and the socket is released.
    peer.close();
    this.#gone(peer);
  }

  // The peer sent a frame that cannot be cut or decoded.
  #failed(peer: Peer, error: unknown) {
    const tooLarge = error instanceof FrameError && error.fault === "too-large";
    if (this.#pending.has(peer)) return this.#refuse(peer, tooLarge ? "too-large" : "garbage");
    if (tooLarge) this.#refusedBy["too-large"]++;
    else this.#counters.malformed++;
    if (!(error instanceof FrameError)) {
      console.error(`workerlog: closed a sender after an unexpected error:`, error);
    }
    peer.close();
    this.#gone(peer);
  }

  #hello(peer: Peer, type: number, body: Uint8Array) {
    if (type !== HELLO) throw new FrameError("unknown-type", `type ${type} before the hello`);
    const { hello } = decodeFrame(type, body) as { hello: Hello };
    if (hello.version !== PROTOCOL_VERSION) {
      return this.#refuse(
        peer,
        "version",
        `protocol version ${hello.version} is not ${PROTOCOL_VERSION}: use the same workerlog ` +
          `version in the sender and the listener`,
      );
    }
    if (!sameToken(this.#token, new TextEncoder().encode(hello.token))) {
      return this.#refuse(
        peer,
        "token",
        `wrong token: pass the listener's token (WORKERLOG_TOKEN from listen().env)`,
      );
    }
    if (this.#links.get(hello.name)?.connected !== true && this.#isFull()) {
      return this.#refuse(
        peer,
        "too-many-senders",
        `the listener has ${this.#maxSenders} senders connected, as many as its maxSenders ` +
          `allows: raise maxSenders in listen() (or let fewer processes log into it at once); ` +
          `this sender tries again every few seconds`,
      );
    }
    const link = this.#linkFor(hello);
    if (link === undefined) {
      return this.#refuse(
        peer,
        "name-in-use",
        `the sender name "${hello.name}" is in use by another sender: give each process its ` +
          `own name (WORKERLOG_NAME or the name option)`,
      );
    }
    this.#pending.delete(peer);
    this.#senders.add(peer);
    this.#accepted++;
    peer.reader.helloOnly = false;
    peer.partialSince = 0;
    link.attach(peer, hello, (bad) => {
      bad.close();
      this.#gone(bad);
    });
  }

  // Whether as many senders are connected as maxSenders allows. A sender
  // that reconnects is not asked: it replaces its own old socket.
  #isFull(): boolean {
    if (this.#senders.size < this.#maxSenders) return false;
    for (const peer of this.#senders) if (peer.closed) this.#senders.delete(peer);
    return this.#senders.size >= this.#maxSenders;
  }

  // The link for the hello's name: the same one for a reconnect, a new one
  // for a new name; none when another live process sends under the name.
  #linkFor(hello: Hello): SocketLink | undefined {
    let known = this.#links.get(hello.name);
    if (known?.closed) {
      // Detached by the listener (e.g. spawn() after that process ended):
      // the name is free for a new sender, with a link of its own.
      this.#links.delete(hello.name);
      known = undefined;
    }
    if (known !== undefined) {
      return known.connected && known.session !== hello.session ? undefined : known;
    }
    const link = new SocketLink(hello.name, this.#resume.get(hello.name), this.#counters);
    if (!this.#hooks.register(link)) return undefined;
    this.#links.set(hello.name, link);
    return link;
  }

  // Counts the peer once and reads nothing more from it: with a reason, it
  // is closed once that is written (or at the deadline, unread).
  #refuse(peer: Peer, reason: RefusalReason, message?: string) {
    this.#refusedBy[reason]++;
    this.#pending.delete(peer);
    if (message === undefined) return peer.close();
    peer.send(this.#encoder.refused(message));
    peer.closeAfterWrites();
    if (peer.closed) return;
    this.#refusing.add(peer);
    peer.whenClosed.then(() => this.#refusing.delete(peer));
  }

  /**
   * Resolves once every sender's socket has closed: each closes once its
   * connection is detached and its last ack written, or at the last-write
   * deadline.
   */
  sendersClosed(): Promise<void> {
    return Promise.all([...this.#senders].map((peer) => peer.whenClosed)).then(() => {});
  }

  #gone(peer: Peer) {
    this.#pending.delete(peer);
    this.#senders.delete(peer);
  }

  // Refuses peers past their deadlines: no hello in time (silent if they
  // sent nothing, slow if they did), or a frame that has not ended in time.
  // Forgets the links the listener detached once their socket has closed
  // (the listener keeps their stats, within its own bound).
  #sweep = () => {
    for (const [name, link] of this.#links) {
      if (!link.closed || link.connected) continue;
      link.forgetClosedPeer();
      this.#links.delete(name);
    }
    const now = Date.now();
    for (const peer of this.#pending) {
      if (now - peer.connectedAt > this.#helloTimeoutMs) {
        this.#refuse(peer, peer.bytesIn === 0 ? "silent" : "slow");
      }
    }
    for (const peer of this.#senders) {
      if (peer.closed) {
        this.#senders.delete(peer);
      } else if (peer.partialSince !== 0 && now - peer.partialSince > this.#frameTimeoutMs) {
        this.#refusedBy.slow++;
        peer.close();
        this.#senders.delete(peer);
      }
    }
  };
}

// Whether the peer completed the TLS handshake: one that does not trust
// the certificate, or speaks plain TCP, fails it (or is closed meanwhile).
async function handshake(conn: Deno.TlsConn): Promise<boolean> {
  try {
    await conn.handshake();
    return true;
  } catch {
    return false;
  }
}

// A port in use is a bad option value: say which address and what to pass.
function inUseAsOption<T>(hostname: string, port: number, listen: () => T): T {
  try {
    return listen();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    throw new InvalidOptionError(
      "port",
      port,
      `a free port, or 0 for one the system picks (${hostname}:${port} is in use)`,
      { cause: error },
    );
  }
}

// Listens with TLS. A cert or key that Deno cannot read, or a key that is
// not the certificate's, is an InvalidOptionError like any other bad option;
// errors of the address (in use, not permitted) stay what they are.
function listenTls(hostname: string, port: number, cert: string, key: string): Deno.TlsListener {
  try {
    return Deno.listenTls({ hostname, port, cert, key });
  } catch (error) {
    const unusable = error instanceof Deno.errors.InvalidData ||
      (error instanceof Error && error.name === "Error");
    if (!unusable) throw error;
    const said = `Deno says: ${(error as Error).message}`;
    if (/certificate/i.test((error as Error).message)) {
      throw new InvalidOptionError(
        "cert",
        preview(cert),
        `a PEM certificate chain that Deno's TLS can read (${said})`,
      );
    }
    throw new InvalidOptionError(
      "key",
      "(hidden)",
      `the unencrypted private key that belongs to the certificate in cert (${said})`,
    );
  }
}

// Compares in time that depends only on the expected token's length, not
// on where the two differ.
function sameToken(expected: Uint8Array, given: Uint8Array): boolean {
  let difference = expected.length ^ given.length;
  for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ (given[i] ?? 0);
  return difference === 0;
}

function checkListenOptions(options: ListenOptions) {
  if (options.keepAlive !== undefined) checkBoolean("keepAlive", options.keepAlive);
  const transport = options.transport ?? "unix";
  if (!["unix", "tcp", "tls"].includes(transport)) {
    throw new InvalidOptionError("transport", transport, '"unix", "tcp" or "tls"');
  }
  if (options.token !== undefined) checkToken(options.token, "get a random one");
  if (transport === "unix" && (options.hostname !== undefined || options.port !== undefined)) {
    throw new InvalidOptionError(
      "transport",
      transport,
      '"tcp" or "tls" with hostname and port (a Unix socket takes a path)',
    );
  }
  if (transport !== "unix" && options.path !== undefined) {
    throw new InvalidOptionError("path", options.path, 'no path with transport "tcp" or "tls"');
  }
  if (transport === "tcp" && !isLoopback(options.hostname ?? "127.0.0.1")) {
    throw new InvalidOptionError(
      "hostname",
      options.hostname,
      'a loopback address (127.0.0.1, ::1, localhost) for "tcp": between hosts use ' +
        'transport "tls" with cert and key',
    );
  }
  checkTlsOptions(transport, options);
  if (options.port !== undefined) checkWholeNumber("port", options.port, 0);
  if (options.helloTimeoutMs !== undefined) {
    checkWholeNumber("helloTimeoutMs", options.helloTimeoutMs);
  }
  if (options.frameTimeoutMs !== undefined) {
    checkWholeNumber("frameTimeoutMs", options.frameTimeoutMs);
  }
  if (options.maxPendingPeers !== undefined) {
    checkWholeNumber("maxPendingPeers", options.maxPendingPeers);
  }
  if (options.maxSenders !== undefined) checkWholeNumber("maxSenders", options.maxSenders);
  if (options.maxFrameBytes !== undefined) {
    checkWholeNumber("maxFrameBytes", options.maxFrameBytes, 1024);
  }
  checkResume(options.resume);
}

// cert and key: PEM text, both, and only for "tls". Neither is ever shown
// in full in an error: a key is secret, and a PEM is long.
function checkTlsOptions(transport: string, options: ListenOptions) {
  const { cert, key } = options;
  if (transport !== "tls") {
    if (cert === undefined && key === undefined) return;
    throw new InvalidOptionError(
      cert === undefined ? "key" : "cert",
      "(given)",
      `no cert or key with transport ${JSON.stringify(transport)}: they are for transport "tls"`,
    );
  }
  if (typeof cert !== "string" || !cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw new InvalidOptionError(
      "cert",
      typeof cert === "string" ? preview(cert) : cert,
      'for transport "tls", the certificate chain as PEM text ("-----BEGIN CERTIFICATE-----' +
        '..."), e.g. cert: await Deno.readTextFile("server.pem"), not a file name',
    );
  }
  if (typeof key === "string" && key.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
    throw new InvalidOptionError(
      "key",
      "(hidden, encrypted)",
      "an unencrypted private key: decrypt it first, e.g. " +
        "openssl pkey -in encrypted.key -out server.key",
    );
  }
  if (typeof key !== "string" || !/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(key)) {
    throw new InvalidOptionError(
      "key",
      key === undefined ? undefined : "(hidden)",
      `for transport "tls", the certificate's private key as PEM text ("-----BEGIN PRIVATE ` +
        `KEY-----..."), e.g. key: await Deno.readTextFile("server.key"), not a file name`,
    );
  }
}

// The start of a text that should have been PEM, to recognise it by; never
// any of a private key.
function preview(text: string): string {
  if (text.includes("PRIVATE KEY")) return "(a private key)";
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

// A Map or a plain object, checked before anything is bound: a Promise (a
// forgotten await), an iterator or a number would otherwise mean "nothing to
// resume", silently.
function checkResume(resume: ListenOptions["resume"]) {
  if (resume === undefined) return;
  const expected = "a Map or a plain object of sender name to next seq";
  if (typeof (resume as { then?: unknown } | null)?.then === "function") {
    throw new InvalidOptionError(
      "resume",
      resume,
      `${expected}, not a Promise: pass resume: await readResumePoints(...)`,
    );
  }
  if (!(resume instanceof Map) && !isPlainObject(resume)) {
    throw new InvalidOptionError(
      "resume",
      resume,
      `${expected}, e.g. resume: await readResumePoints("app.log")`,
    );
  }
  for (const [name, next] of resumePoints(resume)) {
    if (!Number.isSafeInteger(next) || next < 0) {
      throw new InvalidOptionError(`resume.${name}`, next, "a whole number of at least 0");
    }
  }
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function resumePoints(resume: ListenOptions["resume"]): Map<string, number> {
  if (resume === undefined) return new Map();
  return new Map(resume instanceof Map ? resume : Object.entries(resume));
}

// A path of the caller's in a directory only its owner can enter, with a
// socket a killed listener left there removed; or a fresh such directory.
async function prepareSocketPath(
  path: string | undefined,
): Promise<{ path: string; ownDirectory: string | undefined }> {
  if (path === undefined) {
    const directory = await Deno.makeTempDir({ prefix: "workerlog-" });
    await Deno.chmod(directory, 0o700);
    return { path: `${directory}/listener.sock`, ownDirectory: directory };
  }
  ensurePrivateDirectory(path, "leave out path to get a fresh one");
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (existing !== undefined) {
    if (!existing.isSocket) {
      throw new InvalidOptionError("path", path, "a path that is free or holds an old socket");
    }
    if (await isLive(path)) {
      throw new ListenerStateError(
        `Another listener is listening at ${path}: stop it first, or listen at another path.`,
      );
    }
    await Deno.remove(path); // left by a listener that was killed
  }
  return { path, ownDirectory: undefined };
}

async function isLive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
