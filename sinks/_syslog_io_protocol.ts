// What a SyslogHandler and its I/O worker (_syslog_io_worker.ts) say to
// each other. The handler renders and accounts; the worker connects, sends,
// reconnects and reads acknowledgements, on an event loop of its own (see
// _io_worker.ts for why).
import type { Endpoint } from "./_syslog_transport.ts";

/** The handler's first message: everything the worker needs to connect and send. */
export interface SyslogIoSetup {
  kind: "setup";
  transport: "tcp" | "tls" | "udp" | "relp";
  endpoint: Endpoint;
  relpWindow: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** The shared counters; see COUNT. */
  counts: SharedArrayBuffer;
}

/**
 * Rendered messages, in order: `text` is them joined; `ends[i]` is where
 * message i ends in `text` (UTF-16 units), `sizes[i]` its UTF-8 bytes.
 */
export interface SyslogIoMessages {
  kind: "messages";
  text: string;
  ends: Uint32Array;
  sizes: Uint32Array;
}

/** Deliver what is held for up to `timeoutMs`, end the session, answer "closed". */
export interface SyslogIoClose {
  kind: "close";
  timeoutMs: number;
}

/** From the handler to the worker. */
export type SyslogIoRequest = SyslogIoSetup | SyslogIoMessages | SyslogIoClose;

/**
 * The counters the worker keeps in shared memory (a BigInt64Array over
 * `SyslogIoSetup.counts`), so that the handler's buffer accounting and
 * `stats()` never wait for a message: they only grow.
 */
export const COUNT = {
  /** Messages released from the head (delivered, refused), in push order. */
  released: 0,
  /** Their UTF-8 bytes. */
  releasedBytes: 1,
  sent: 2,
  acknowledged: 3,
  delivered: 4,
  refused: 5,
  resent: 6,
  reconnects: 7,
  failedConnects: 8,
} as const;

/** The size of the shared counters, in bytes. */
export const COUNTS_BYTES = 8 * Object.keys(COUNT).length;

/** A fault the handler turns into a ForwardingError; the worker already keeps it to one per episode. */
export interface SyslogIoFault {
  /** "connect": cannot connect; "lost": lost the connection; "refused": RELP answered with an error. */
  what: "connect" | "lost" | "refused";
  /** The underlying error's message (or the receiver's answer, for "refused"). */
  message: string;
}

/**
 * From the worker to the handler, at most once per task while it makes
 * progress: the counters moved (read them), faults, and whether it is done
 * closing.
 */
export interface SyslogIoReport {
  kind: "report";
  faults: SyslogIoFault[];
  /** Set on the last report, after a "close": the session is over. */
  closed: boolean;
}
