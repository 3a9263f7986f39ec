import {
  BaseHandler,
  type BaseHandlerOptions,
  type LevelName,
  LogLevels,
  type LogRecord,
} from "@std/log";
import { within } from "../common/_within.ts";
import { ForwardingError, InvalidOptionError } from "../errors.ts";
import type { LogsLines, ReportsErrors } from "../common/handler_hooks.ts";
import {
  FACILITIES,
  headerField,
  isHeaderField,
  SyslogMessageRenderer,
  truncateUtf8,
  utf8Length,
} from "./_syslog_message.ts";
import { asError, type Endpoint } from "./_syslog_transport.ts";
import { IoWorker } from "./_io_worker.ts";
import {
  COUNT,
  COUNTS_BYTES,
  type SyslogIoFault,
  type SyslogIoReport,
  type SyslogIoRequest,
} from "./_syslog_io_protocol.ts";

/**
 * How a {@linkcode SyslogHandler} reaches its receiver:
 *
 * - `"tcp"`: TCP with octet counting (RFC 6587), default port 514.
 * - `"tls"`: the same over TLS (RFC 5425), default port 6514.
 * - `"udp"`: one datagram per message (RFC 5426), default port 514.
 * - `"relp"`: rsyslog's RELP, every message acknowledged, default port 2514.
 *
 * @example
 * ```ts
 * import type { SyslogTransport } from "@workerlog/workerlog";
 *
 * const transport: SyslogTransport = "relp";
 * ```
 */
export type SyslogTransport = "tcp" | "tls" | "udp" | "relp";

/**
 * A syslog facility by its RFC 5424 keyword ("user" = 1, "local0" = 16, ...).
 *
 * @example
 * ```ts
 * import type { SyslogFacility } from "@workerlog/workerlog";
 *
 * const facility: SyslogFacility = "local0";
 * ```
 */
export type SyslogFacility =
  | "kern"
  | "user"
  | "mail"
  | "daemon"
  | "auth"
  | "syslog"
  | "lpr"
  | "news"
  | "uucp"
  | "cron"
  | "authpriv"
  | "ftp"
  | "ntp"
  | "audit"
  | "alert"
  | "clock"
  | "local0"
  | "local1"
  | "local2"
  | "local3"
  | "local4"
  | "local5"
  | "local6"
  | "local7";

/**
 * Options of {@linkcode SyslogHandler}. Everything has a default; the usual
 * ones to set are `transport`, `host` and `port`.
 *
 * @example RELP to a central rsyslog, facility local0
 * ```ts
 * import { SyslogHandler, type SyslogHandlerOptions } from "@workerlog/workerlog";
 *
 * const options: SyslogHandlerOptions = {
 *   transport: "relp",
 *   host: "logs.internal",
 *   port: 2514,
 *   facility: "local0",
 *   appName: "billing",
 * };
 * const handler = new SyslogHandler("INFO", options);
 * handler.destroy();
 * ```
 */
export interface SyslogHandlerOptions extends BaseHandlerOptions {
  /** How to send. Default: "tcp". */
  transport?: SyslogTransport;
  /** The receiver's host name or address. Default: "127.0.0.1". */
  host?: string;
  /** The receiver's port. Default: 514 (tcp, udp), 6514 (tls), 2514 (relp). */
  port?: number;
  /** For "tls": the CA certificates (PEM) to trust instead of the system's. */
  caCerts?: string[];
  /** The facility: a keyword or its code 0 to 23. Default: "user" (1), as Python's SysLogHandler. */
  facility?: SyslogFacility | number;
  /** HOSTNAME: printable ASCII, at most 255 characters. Default: this machine's name ("-" without `--allow-sys`). */
  hostname?: string;
  /** APP-NAME: printable ASCII, at most 48. Default: the main module's file name without extension. */
  appName?: string;
  /** PROCID: printable ASCII, at most 128. Default: the process id. */
  procId?: string;
  /**
   * The private enterprise number in the structured data's SD-ID,
   * `workerlog@<enterpriseId>`. Default: 32473, the PEN that RFC 5612
   * reserves for documentation; use your organisation's own if it has one.
   */
  enterpriseId?: number | string;
  /** Whether MSG starts with the UTF-8 BOM (RFC 5424 says SHOULD). Default: false, see the README. */
  utf8Bom?: boolean;
  /** The most bytes one message may take. Default: 65,536, or 2,048 for "udp" (RFC 5426's SHOULD). */
  maxMessageBytes?: number;
  /** What happens to a longer message: cut at a character boundary ("truncate", default) or "drop". */
  oversize?: "truncate" | "drop";
  /** The most bytes of messages held while not yet delivered. Default: 16 MiB. */
  maxBufferBytes?: number;
  /** For "relp": the most messages sent and not yet acknowledged. Default: 1,024. */
  relpWindow?: number;
  /**
   * The first delay before reconnecting, doubled after each failure until
   * the link works again (RELP: a message answered; TCP, TLS, UDP, whose
   * writes prove nothing: a connection that stayed up 10 x reconnectMinMs).
   * A fault is reported once per such episode. Default: 100 ms.
   */
  reconnectMinMs?: number;
  /** The longest delay before reconnecting. Default: 30,000 ms (or `reconnectMinMs` if more). */
  reconnectMaxMs?: number;
  /**
   * How long one connection attempt may take, the TLS handshake included
   * (RELP's open then gets as long again). Default: 10,000 ms.
   */
  connectTimeoutMs?: number;
  /** How long `[Symbol.asyncDispose]()` waits for buffered messages to be delivered. Default: 5,000 ms. */
  closeTimeoutMs?: number;
  /**
   * Where faults go (a receiver that cannot be reached, a connection lost,
   * records dropped). Default: `console.error`, or the listener's `onError`
   * when a QueueListener owns the handler; this option, when given, wins.
   */
  onError?: (error: Error) => void;
}

/**
 * The counters of a {@linkcode SyslogHandler}, all since it was built.
 * Every record it accepted ends up in exactly one of `delivered`,
 * `refused`, `abandoned`, or is still `buffered`.
 *
 * @example
 * ```ts
 * import { SyslogHandler, type SyslogStats } from "@workerlog/workerlog";
 *
 * const handler = new SyslogHandler("INFO");
 * const stats: SyslogStats = handler.stats();
 * console.log(stats.dropped); // 0
 * handler.destroy();
 * ```
 */
export interface SyslogStats {
  /** Records (and drop notices) accepted into the buffer. */
  accepted: number;
  /**
   * Messages written to a connection for the first time. For "tcp", "tls"
   * and "udp" this means handed to the operating system, which is all
   * those protocols can tell: nobody confirms receipt.
   */
  sent: number;
  /** "relp" only: messages the receiver acknowledged with 200. */
  acknowledged: number;
  /**
   * Messages done with: for "relp" acknowledged, for the others written to
   * the connection (`sent`, less resends).
   */
  delivered: number;
  /**
   * Delivered messages that no receiver confirmed: for "tcp", "tls" and
   * "udp" every delivered one (a receiver that goes away loses what is in
   * flight and no one can tell how much); for "relp" always 0.
   */
  unconfirmed: number;
  /** "relp" only: messages the receiver answered with an error (not sent again). */
  refused: number;
  /** Messages sent again on a new connection because the old one failed before they were confirmed. */
  resent: number;
  /** Records not accepted because the buffer was full, or because they came after `destroy()`. */
  dropped: number;
  /** Records cut to `maxMessageBytes`. */
  truncated: number;
  /** Records dropped for being longer than `maxMessageBytes` (`oversize: "drop"`). */
  oversized: number;
  /** Records still buffered when the handler was destroyed, never delivered. */
  abandoned: number;
  /** Connections made after the first one. */
  reconnects: number;
  /** Connection attempts that failed. */
  failedConnects: number;
  /** Records held now: sent and awaiting acknowledgement, or not sent yet. */
  buffered: number;
  /** Their size in bytes. */
  bufferedBytes: number;
}

const DEFAULT_PORTS: Record<SyslogTransport, number> = {
  tcp: 514,
  tls: 6514,
  udp: 514,
  relp: 2514,
};
const TRANSPORTS = Object.keys(DEFAULT_PORTS);
/** Accepted bytes that are posted to the I/O worker at once, not at the end of the task. */
const POST_BYTES = 256 * 1024;

/**
 * An @std/log handler that sends records to a syslog receiver (rsyslog,
 * syslog-ng, a SIEM) as RFC 5424 messages, over TCP, TLS, UDP or RELP.
 *
 * Give it to a QueueListener to forward every worker's records, with their
 * own time, worker and sequence number; it works alone as well, for
 * main-thread loggers (worker "main").
 *
 * `handle()` never blocks and never throws: it renders the message and puts
 * it in a buffer bounded in bytes (`maxBufferBytes`); a worker thread of
 * the handler's own (started with the first record) connects and sends, so
 * that delivery goes on while a flood of records keeps the listener's
 * thread busy. While the receiver cannot be reached, records wait in the
 * buffer and that worker reconnects with exponential backoff (with
 * jitter). When the buffer is full, records are dropped and counted, and
 * the next message that goes through is preceded by a notice saying how
 * many. Faults are reported once per episode through `onError`.
 *
 * The handler does not keep the program alive (its worker is unref'd): close
 * it to deliver what is buffered, with `await using` or
 * `[Symbol.asyncDispose]()`, which waits up to `closeTimeoutMs` and then
 * stops the worker; `destroy()` stops it at once. A QueueListener's `stop()`
 * does both for its handlers. The worker runs with the program's
 * permissions.
 *
 * @example Forward every worker's records over RELP
 * ```ts ignore
 * import { spawn, SyslogHandler } from "@workerlog/workerlog";
 *
 * await spawn(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new SyslogHandler("INFO", { transport: "relp", host: "logs.internal" })],
 * });
 * ```
 *
 * @example On its own, on the main thread
 * ```ts ignore
 * import * as log from "@std/log";
 * import { SyslogHandler } from "@workerlog/workerlog";
 *
 * await using syslog = new SyslogHandler("INFO", { transport: "tcp", port: 514 });
 * log.setup({ handlers: { syslog }, loggers: { default: { level: "INFO", handlers: ["syslog"] } } });
 * log.info("hello, syslog");
 * ```
 */
export class SyslogHandler extends BaseHandler
  implements ReportsErrors, LogsLines, AsyncDisposable {
  /** How it sends. */
  readonly transport: SyslogTransport;
  /** The receiver's host. */
  readonly host: string;
  /** The receiver's port. */
  readonly port: number;
  readonly #endpoint: Endpoint;
  readonly #renderer: SyslogMessageRenderer;
  readonly #maxBufferBytes: number;
  readonly #maxMessageBytes: number;
  readonly #dropOversize: boolean;
  readonly #relpWindow: number;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #closeTimeoutMs: number;
  readonly #scratch: Uint8Array;
  #report: (error: Error) => void;
  readonly #reportChosen: boolean;
  // Counted here; the I/O worker counts the rest in #counts (see COUNT).
  #stats = { dropped: 0, truncated: 0, oversized: 0, abandoned: 0 };
  #counts = new BigInt64Array(new SharedArrayBuffer(COUNTS_BYTES));
  /** The worker's counters as destroy() left them: it counts no more. */
  #final: BigInt64Array | undefined;
  // The buffer's accounting: what was accepted and not yet released by the
  // I/O worker (delivered or refused) counts against maxBufferBytes. The
  // released counts are read from shared memory when needed.
  #pushed = 0;
  #pushedBytes = 0;
  #released = 0;
  #releasedBytes = 0;
  // Accepted and not yet posted to the I/O worker: posted once per task.
  #pending: string[] = [];
  #pendingSizes: number[] = [];
  #pendingBytes = 0;
  #postScheduled = false;
  readonly #postPending = () => this.#post();
  #io: IoWorker<SyslogIoRequest, SyslogIoReport> | undefined;
  #ioClosed: (() => void) | undefined;
  #destroyed = false;
  #closedDropsReported = false;
  #formatterFailing = false;
  #closing: Promise<void> | undefined;
  /** Records dropped since the last drop notice went into the buffer. */
  #unnoticedDrops = 0;
  // One report per episode: set when reported, cleared when a notice goes in.
  #dropsReported = false;
  #waiters: { target: number; resolve: () => void; reject: (error: Error) => void }[] = [];

  /** Builds the handler; it connects when it first has something to send. */
  constructor(levelName: LevelName, options?: SyslogHandlerOptions) {
    options ??= {};
    super(levelName, options);
    this.transport = checkTransport(options.transport ?? "tcp");
    this.host = checkHost(options.host ?? "127.0.0.1");
    this.port = checkInteger("port", options.port ?? DEFAULT_PORTS[this.transport], 1, 65_535);
    const caCerts = checkCaCerts(options.caCerts, this.transport);
    const connectTimeoutMs = checkInteger(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? 10_000,
      1,
      3_600_000,
    );
    this.#endpoint = { host: this.host, port: this.port, connectTimeoutMs, caCerts };
    this.#maxMessageBytes = checkInteger(
      "maxMessageBytes",
      options.maxMessageBytes ?? (this.transport === "udp" ? 2_048 : 65_536),
      480,
      this.transport === "udp" ? 65_507 : 64 * 1024 * 1024,
    );
    this.#dropOversize = checkOversize(options.oversize ?? "truncate") === "drop";
    const maxBufferBytes = checkInteger(
      "maxBufferBytes",
      options.maxBufferBytes ?? 16 * 1024 * 1024,
      this.#maxMessageBytes * 2,
      2 ** 40,
    );
    this.#maxBufferBytes = maxBufferBytes;
    this.#relpWindow = checkInteger("relpWindow", options.relpWindow ?? 1_024, 1, 100_000);
    this.#reconnectMinMs = checkInteger(
      "reconnectMinMs",
      options.reconnectMinMs ?? 100,
      1,
      3_600_000,
    );
    this.#reconnectMaxMs = checkInteger(
      "reconnectMaxMs",
      options.reconnectMaxMs ?? Math.max(30_000, this.#reconnectMinMs),
      this.#reconnectMinMs,
      3_600_000,
    );
    this.#closeTimeoutMs = checkInteger(
      "closeTimeoutMs",
      options.closeTimeoutMs ?? 5_000,
      0,
      3_600_000,
    );
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new InvalidOptionError("onError", options.onError, "a function (error) => void");
    }
    this.#reportChosen = options.onError !== undefined;
    this.#report = options.onError ?? ((error) => console.error(error));
    this.#renderer = new SyslogMessageRenderer({
      facility: checkFacility(options.facility ?? "user"),
      hostname: checkHeader("hostname", options.hostname, 255) ?? defaultHostname(),
      appName: checkHeader("appName", options.appName, 48) ?? defaultAppName(),
      procId: checkHeader("procId", options.procId, 128) ?? String(Deno.pid),
      sdId: `workerlog@${checkEnterpriseId(options.enterpriseId ?? 32473)}`,
      bom: checkBoolean("utf8Bom", options.utf8Bom ?? false),
      body: options.formatter,
    });
    this.#scratch = new Uint8Array(this.#maxMessageBytes);
  }

  /** The receiver, as a URL-like string for messages: e.g. "relp://127.0.0.1:2514". */
  get target(): string {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `${this.transport}://${host}:${this.port}`;
  }

  /** Reports faults to `report` from now on, unless `onError` was given. Called by the QueueListener. */
  reportErrorsTo(report: (error: Error) => void): void {
    if (!this.#reportChosen) this.#report = report;
    // A listener is about to feed this handler: the sending worker boots
    // now, not when the first records are waiting for it.
    if (!this.#destroyed) this.#io ??= this.#startIo();
  }

  /** Renders the record as an RFC 5424 message and buffers it. Never blocks, never throws. */
  override handle(record: LogRecord): void {
    if (record.level < this.level) return;
    let message: string;
    try {
      message = this.#renderer.render(record);
      this.#formatterFailing = false;
    } catch (error) {
      // Only a formatter of the user's can throw here; reported once until
      // a record renders again.
      this.#stats.dropped++;
      if (this.#formatterFailing) return;
      this.#formatterFailing = true;
      this.#report(
        new ForwardingError(
          this.target,
          `SyslogHandler (${this.target}): the formatter threw: ${asError(error).message}. ` +
            `The record was dropped; fix the formatter.`,
          { cause: error },
        ),
      );
      return;
    }
    this.#enqueue(message);
  }

  /** Sends `msg`, a finished line, as the MSG of an INFO message, now; see `logLine()`. */
  log(msg: string): void {
    this.logLine(LogLevels.INFO, msg);
  }

  /**
   * Sends `line`, a finished line, as the MSG of a message at the severity
   * of `level`, now, without MSGID or structured data: a QueueListener hands
   * preformatted lines over this way, after checking the level. Give the
   * handler records instead where you can (no `preformat`).
   */
  logLine(level: number, line: string): void {
    this.#enqueue(this.#renderer.line(level, line, Date.now()));
  }

  /** The MSG a record gets: the formatter's text, or msg and each arg as JSON. */
  override format(record: LogRecord): string {
    return this.#renderer.body(record);
  }

  /**
   * Opens the handler again after `destroy()`, as `log.setup()` asks of the
   * handlers it is given: a new sending worker, the counters going on.
   */
  override setup(): void {
    if (!this.#destroyed) return;
    const counts = new BigInt64Array(new SharedArrayBuffer(COUNTS_BYTES));
    counts.set(this.#final!);
    // destroy() settled every record: what it abandoned counts as released.
    counts[COUNT.released] = BigInt(this.#pushed);
    counts[COUNT.releasedBytes] = BigInt(this.#pushedBytes);
    this.#counts = counts;
    this.#final = undefined;
    this.#io = undefined;
    this.#ioClosed = undefined;
    this.#closing = undefined;
    this.#closedDropsReported = false;
    this.#destroyed = false;
  }

  /** Hands what was accepted to the sending worker; returns at once (the QueueListener calls this every turn). */
  flush(): void {
    this.#post();
  }

  /**
   * Resolves once every record accepted before the call has been delivered
   * (for "relp" acknowledged or refused, for the others written to the
   * connection). Rejects if the handler is destroyed first, or with
   * `signal`'s reason when it aborts.
   */
  drained(signal?: AbortSignal): Promise<void> {
    const target = this.#pushed;
    if (this.#readReleased() >= target) return Promise.resolve();
    if (this.#destroyed) return Promise.reject(this.#undeliveredError(this.#stats.abandoned));
    signal?.throwIfAborted();
    this.#post();
    return new Promise((resolve, reject) => {
      const waiter = { target, resolve, reject };
      this.#waiters.push(waiter);
      signal?.addEventListener("abort", () => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** The counters; see {@linkcode SyslogStats}. */
  stats(): SyslogStats {
    this.#readReleased();
    const counts = this.#final ?? this.#counts;
    const count = (counter: number) => Number(Atomics.load(counts, counter));
    const delivered = count(COUNT.delivered);
    return {
      accepted: this.#pushed,
      sent: count(COUNT.sent),
      acknowledged: count(COUNT.acknowledged),
      delivered,
      unconfirmed: this.transport === "relp" ? 0 : delivered,
      refused: count(COUNT.refused),
      resent: count(COUNT.resent),
      ...this.#stats,
      reconnects: count(COUNT.reconnects),
      failedConnects: count(COUNT.failedConnects),
      buffered: this.#pushed - this.#released,
      bufferedBytes: this.#pushedBytes - this.#releasedBytes,
    };
  }

  /**
   * Delivers what is buffered, waiting up to `closeTimeoutMs`, ends the
   * session (RELP "close"), then destroys the handler. Records still
   * undelivered at the deadline are counted as `abandoned` and reported.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /**
   * Closes the connection and stops the sending worker at once, without
   * waiting: what is still buffered is abandoned (counted and reported).
   * Idempotent.
   */
  override destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#io?.terminate();
    this.#ioClosed?.();
    const released = this.#readReleased();
    this.#final = this.#counts.slice();
    const abandoned = this.#pushed - released;
    this.#released = this.#pushed;
    this.#releasedBytes = this.#pushedBytes;
    this.#pending = [];
    this.#pendingSizes = [];
    this.#pendingBytes = 0;
    this.#stats.abandoned += abandoned;
    if (abandoned > 0) {
      this.#report(
        new ForwardingError(
          this.target,
          `SyslogHandler (${this.target}) was closed with ${abandoned} records not delivered; ` +
            `they are lost. Give it more time to deliver (closeTimeoutMs), or check the receiver.`,
        ),
      );
    }
    for (const waiter of this.#waiters) {
      waiter.reject(this.#undeliveredError(waiter.target - released));
    }
    this.#waiters = [];
  }

  async #close() {
    if (this.#destroyed) return;
    if (this.#unnoticedDrops > 0) this.#pushDropNotice();
    this.#post();
    const io = this.#io;
    if (io !== undefined) {
      // The program waits for the last delivery, and no longer.
      io.listen();
      const closed = new Promise<void>((resolve) => this.#ioClosed = resolve);
      io.post({ kind: "close", timeoutMs: this.#closeTimeoutMs });
      // The worker answers within closeTimeoutMs; this only guards a worker that cannot.
      await within(closed, this.#closeTimeoutMs + 2_000, undefined);
    }
    this.destroy();
  }

  #enqueue(message: string) {
    if (this.#destroyed) {
      this.#dropClosed();
      return;
    }
    let bytes = utf8Length(message);
    if (bytes > this.#maxMessageBytes) {
      if (this.#dropOversize) {
        this.#stats.oversized++;
        return;
      }
      message = truncateUtf8(message, this.#maxMessageBytes, this.#scratch);
      bytes = utf8Length(message);
      this.#stats.truncated++;
    }
    if (this.#unnoticedDrops > 0 && this.#fits(bytes + 512)) this.#pushDropNotice();
    if (this.#unnoticedDrops > 0 || !this.#push(message, bytes)) this.#drop();
  }

  // Reads the worker's released counts only when the last ones say "full".
  #fits(bytes: number): boolean {
    const room = this.#maxBufferBytes - bytes;
    if (this.#pushedBytes - this.#releasedBytes <= room) return true;
    this.#readReleased();
    return this.#pushedBytes - this.#releasedBytes <= room;
  }

  /** Brings the released counts up to date from the worker's; returns `released`. */
  #readReleased(): number {
    if (this.#final === undefined) {
      this.#released = Number(Atomics.load(this.#counts, COUNT.released));
      this.#releasedBytes = Number(Atomics.load(this.#counts, COUNT.releasedBytes));
    }
    return this.#released;
  }

  #push(message: string, bytes: number): boolean {
    if (!this.#fits(bytes)) return false;
    this.#pushed++;
    this.#pushedBytes += bytes;
    this.#pending.push(message);
    this.#pendingSizes.push(bytes);
    this.#pendingBytes += bytes;
    if (this.#pendingBytes >= POST_BYTES) this.#post();
    else if (!this.#postScheduled) {
      this.#postScheduled = true;
      queueMicrotask(this.#postPending);
    }
    return true;
  }

  #drop() {
    this.#stats.dropped++;
    this.#unnoticedDrops++;
    if (!this.#dropsReported) {
      this.#dropsReported = true;
      this.#report(
        new ForwardingError(
          this.target,
          `SyslogHandler (${this.target}): the buffer is full (maxBufferBytes ${this.#maxBufferBytes}), ` +
            `so records are being dropped; a notice in the log will say how many. The receiver is ` +
            `down or slower than the logging: check it, or raise maxBufferBytes.`,
        ),
      );
    }
  }

  #dropClosed() {
    this.#stats.dropped++;
    if (this.#closedDropsReported) return;
    this.#closedDropsReported = true;
    this.#report(
      new ForwardingError(
        this.target,
        `SyslogHandler (${this.target}) is closed, so records logged to it are dropped (counted ` +
          `in stats().dropped). Log through handlers that are set up: log.setup() calls setup() ` +
          `on the handlers it is given, and a handler destroyed by an earlier log.setup() is ` +
          `closed until then.`,
      ),
    );
  }

  #pushDropNotice() {
    const notice = this.#renderer.notice(
      `workerlog: dropped ${this.#unnoticedDrops} records because the syslog buffer was full ` +
        `(maxBufferBytes ${this.#maxBufferBytes})`,
      Date.now(),
    );
    if (this.#push(notice, utf8Length(notice))) {
      this.#unnoticedDrops = 0;
      this.#dropsReported = false;
    }
  }

  // Hands the pending messages to the I/O worker as one joined string with
  // their ends and sizes (two typed arrays, transferred): one structured
  // clone per task instead of one per record.
  #post() {
    this.#postScheduled = false;
    const count = this.#pending.length;
    if (count === 0 || this.#destroyed) return;
    const ends = new Uint32Array(count);
    let end = 0;
    for (let i = 0; i < count; i++) ends[i] = end += this.#pending[i].length;
    const sizes = Uint32Array.from(this.#pendingSizes);
    const text = this.#pending.join("");
    this.#pending = [];
    this.#pendingSizes = [];
    this.#pendingBytes = 0;
    (this.#io ??= this.#startIo()).post({ kind: "messages", text, ends, sizes }, [
      ends.buffer,
      sizes.buffer,
    ]);
  }

  #startIo(): IoWorker<SyslogIoRequest, SyslogIoReport> {
    const io = new IoWorker<SyslogIoRequest, SyslogIoReport>(
      new URL("./_syslog_io_worker.ts", import.meta.url),
      (report) => this.#progress(report),
      (error) => {
        this.#report(
          new ForwardingError(
            this.target,
            `SyslogHandler (${this.target}): its I/O worker failed: ${error.message}. Nothing ` +
              `more is delivered; what is buffered is abandoned at close. Please report this.`,
            { cause: error },
          ),
        );
        this.#ioClosed?.();
      },
    );
    io.post({
      kind: "setup",
      transport: this.transport,
      endpoint: this.#endpoint,
      relpWindow: this.#relpWindow,
      reconnectMinMs: this.#reconnectMinMs,
      reconnectMaxMs: this.#reconnectMaxMs,
      counts: this.#counts.buffer as SharedArrayBuffer,
    });
    return io;
  }

  #progress(report: SyslogIoReport) {
    if (this.#destroyed) return;
    for (const fault of report.faults) this.#reportFault(fault);
    this.#settleWaiters();
    if (report.closed) this.#ioClosed?.();
  }

  #reportFault(fault: SyslogIoFault) {
    const cause = new Error(fault.message);
    if (fault.what === "refused") {
      this.#report(
        new ForwardingError(
          this.target,
          `SyslogHandler (${this.target}): the receiver refused a message: ${fault.message}. ` +
            `It is not sent again; check the receiver's limits (maxDataSize, rate limits).`,
        ),
      );
      return;
    }
    const what = fault.what === "connect" ? "cannot connect" : "lost the connection";
    this.#report(
      new ForwardingError(
        this.target,
        `SyslogHandler (${this.target}) ${what}: ${fault.message}. Records wait in the buffer ` +
          `(up to maxBufferBytes) and go out once the receiver is back; it keeps retrying. Check ` +
          `that the receiver runs and listens there` +
          (this.transport === "tls"
            ? `, and that its certificate is valid for ${this.host} and signed by a CA in caCerts (or the system's).`
            : "."),
        { cause },
      ),
    );
  }

  #settleWaiters() {
    if (this.#waiters.length === 0) return;
    const released = this.#readReleased();
    const waiting = [];
    for (const waiter of this.#waiters) {
      if (waiter.target <= released) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  #undeliveredError(undelivered: number): ForwardingError {
    return new ForwardingError(
      this.target,
      `SyslogHandler (${this.target}) was destroyed before it delivered the ` +
        `${undelivered} records awaited.`,
    );
  }
}

function checkTransport(transport: unknown): SyslogTransport {
  if (!TRANSPORTS.includes(transport as string)) {
    throw new InvalidOptionError(
      "transport",
      transport,
      `one of ${TRANSPORTS.map((t) => `"${t}"`).join(", ")}`,
    );
  }
  return transport as SyslogTransport;
}

function checkHost(host: unknown): string {
  if (typeof host !== "string" || host === "" || /[\s/]/.test(host)) {
    throw new InvalidOptionError("host", host, 'a host name or IP address, e.g. "127.0.0.1"');
  }
  return host;
}

function checkInteger(option: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new InvalidOptionError(option, value, `a whole number from ${min} to ${max}`);
  }
  return value as number;
}

function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new InvalidOptionError(option, value, "true or false");
  return value;
}

function checkOversize(value: unknown): "truncate" | "drop" {
  if (value !== "truncate" && value !== "drop") {
    throw new InvalidOptionError("oversize", value, '"truncate" or "drop"');
  }
  return value;
}

function checkCaCerts(caCerts: unknown, transport: SyslogTransport): string[] | undefined {
  if (caCerts === undefined) return undefined;
  if (transport !== "tls") {
    throw new InvalidOptionError("caCerts", "[...]", 'no caCerts unless transport is "tls"');
  }
  if (
    !Array.isArray(caCerts) ||
    !caCerts.every((pem) => typeof pem === "string" && pem.includes("-----BEGIN CERTIFICATE-----"))
  ) {
    throw new InvalidOptionError(
      "caCerts",
      caCerts,
      "an array of PEM certificates (the text of the .pem files, not their paths)",
    );
  }
  return caCerts;
}

function checkFacility(facility: unknown): number {
  if (Number.isInteger(facility) && (facility as number) >= 0 && (facility as number) <= 23) {
    return facility as number;
  }
  const code = (FACILITIES as readonly string[]).indexOf(facility as string);
  if (code < 0) {
    throw new InvalidOptionError(
      "facility",
      facility,
      `a code from 0 to 23 or one of ${FACILITIES.join(", ")}`,
    );
  }
  return code;
}

function checkHeader(option: string, value: unknown, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !isHeaderField(value, max)) {
    throw new InvalidOptionError(
      option,
      value,
      `1 to ${max} printable US-ASCII characters without spaces (RFC 5424)`,
    );
  }
  return value;
}

function checkEnterpriseId(id: unknown): string {
  const text = typeof id === "number" ? String(id) : id;
  if (typeof text !== "string" || !/^[1-9]\d*(\.\d+)*$/.test(text) || text.length > 22) {
    throw new InvalidOptionError(
      "enterpriseId",
      id,
      "a private enterprise number such as 32473 (digits, optionally dotted)",
    );
  }
  return text;
}

function defaultHostname(): string {
  try {
    return headerField(Deno.hostname(), 255);
  } catch {
    return "-";
  }
}

function defaultAppName(): string {
  try {
    const path = new URL(Deno.mainModule).pathname;
    const file = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
    return headerField(file, 48);
  } catch {
    return "-";
  }
}
