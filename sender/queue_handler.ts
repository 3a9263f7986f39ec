import {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  type LogRecord,
} from "@std/log";
import {
  CLOSED,
  DROPPED,
  HANDLED,
  HANDLED_BYTES,
  type OverflowPolicy,
  POST_REQUESTS,
  POSTED,
  POSTED_BYTES,
  REJECTED,
  resumeLevel,
  sendCounted,
  WAITING,
} from "../common/_flow.ts";
import { capturedSize } from "../common/_capture.ts";
import { checkBatchSize } from "../common/_options.ts";
import {
  CLOSING,
  FLUSH,
  FLUSHED,
  isSameThread,
  LINES,
  type ListenerMessage,
  POST_NOW,
  type QueueConnection,
  RECORDS,
} from "../common/_wire.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import { captureRecord, type WorkerLogRecord } from "../common/worker_log_record.ts";
import { describe, describeError } from "../errors.ts";
import { BatchBuilder } from "./_batch_builder.ts";
import { postPendingOnExit } from "./_exit_hooks.ts";
import { FormattingRecord } from "./_formatting_record.ts";

/** Records per batch unless `batchSize` says otherwise. */
export const DEFAULT_BATCH_SIZE = 512;

/**
 * A batch is posted once its texts reach this size, whatever its count. A
 * single record larger than this travels alone. V8 cannot join texts into a
 * string longer than about 512 M characters, so batches must stay well below.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;

// How long a blocked sender sleeps before it looks again whether the
// listener has closed; a notify from the listener wakes it sooner.
const BLOCK_RECHECK_MS = 50;

/**
 * For spawn's bootstrap, which chooses a preformatting handler's formatter
 * only once the worker's module has loaded: until the returned function is
 * called with the formatter, records are held (copied as at the log call),
 * then formatted and sent in order. So one formatter formats every line.
 * Held records go before that, formatted with the handler's formatter as it
 * is then (spawn's is textFormatter), once they reach the connection's caps
 * (so that memory stays bounded), at an exit, and at a post request.
 * Defined inside the class (a static block) so that it can reach its
 * private fields without making them public.
 */
export let holdUntilFormatter: (
  handler: QueueHandler,
) => (formatter: FormatterFunction) => void;

/**
 * Options of {@linkcode QueueHandler}.
 *
 * @example Format in this thread, send finished lines in batches of 1,024
 * ```ts
 * import { jsonLinesFormatter, type QueueHandlerOptions, QueueListener } from "@workerlog/workerlog";
 *
 * await using listener = new QueueListener([]).start();
 * const options: QueueHandlerOptions = {
 *   connection: listener.connect(),
 *   formatter: jsonLinesFormatter,
 *   preformat: true,
 *   batchSize: 1_024,
 * };
 * ```
 */
export interface QueueHandlerOptions extends BaseHandlerOptions, Pick<LoggingOptions, "batchSize"> {
  /** Where to send: from `QueueListener.connect()` or the worker's setup. */
  connection: QueueConnection;
  /**
   * Format each record here, with this handler's formatter, and send the
   * finished line; the listener's handlers then write it as it is. Use it
   * when the formatter is a pure function of the record. Default: false.
   *
   * Under `spawn()` the formatter is the worker module's `formatter` export,
   * and records logged while the module loads wait for it. If they reach the
   * connection's `maxInFlight` records or `maxInFlightBytes` first, they go
   * at once, formatted with `textFormatter`, and so does the rest of what is
   * logged while the module loads, under the usual caps and overflow policy.
   * They go the same way at `flush()`, and when the worker ends, or the
   * program stops on a signal, before the module has loaded.
   */
  preformat?: boolean;
}

/**
 * The sending half: a handler of the @std/log package that streams records
 * to a {@linkcode QueueListener}, usually from inside a worker.
 *
 * `handle()` appends the record to a batch, capturing its args as JSON-safe
 * data; the batch is posted when it holds `batchSize` records or 1 MiB of
 * text, or at the end of the current task, whichever comes first, so a burst
 * of log calls costs one message. `handle()` never throws. When the listener
 * falls behind, the connection's overflow policy applies: "block" waits (the
 * worker thread sleeps on a shared counter), "drop" counts and drops.
 *
 * `spawn()` and `setupWorkerLogging()` create and install it for you; build
 * one yourself only for your own wiring. On the listener's own thread
 * nothing is capped (waiting for the listener there could never end); use
 * `listener.handler()` there instead.
 *
 * @example Send records over a channel from `QueueListener.connect()`
 * ```ts
 * import { QueueHandler, QueueListener } from "@workerlog/workerlog";
 * import { ConsoleHandler, Logger } from "@std/log";
 *
 * await using listener = new QueueListener([new ConsoleHandler("INFO")]).start();
 * const handler = new QueueHandler("INFO", { connection: listener.connect({ name: "job" }) });
 * const logger = new Logger("app", "INFO", { handlers: [handler] });
 * logger.info("sent through the queue");
 * await handler.flush(); // written by the listener's ConsoleHandler
 * ```
 */
export class QueueHandler extends BaseHandler {
  /** Whether records are formatted here and sent as finished lines. */
  readonly preformat: boolean;
  /** Records per batch. */
  readonly batchSize: number;
  readonly #connection: QueueConnection;
  readonly #flow: Int32Array | undefined;
  readonly #maxInFlight: number;
  readonly #maxInFlightBytes: number;
  readonly #overflow: OverflowPolicy;
  readonly #batch: BatchBuilder;
  readonly #formatting: FormattingRecord;
  readonly #stopPostingOnExit: () => void;
  #seq = 0;
  #posted = 0;
  #postedBytes = 0;
  #credit = 0;
  #byteCredit = 0;
  #postQueued = false;
  #postRequestsSeen = 0;
  #flushIds = 0;
  #flushes = new Map<number, () => void>();
  #closed = false;
  /** Records logged before the formatter was chosen (preformat only); see holdUntilFormatter. */
  #held: WorkerLogRecord[] | undefined;
  #heldBytes = 0;

  /** Builds a handler that sends to `options.connection`. */
  constructor(levelName: LevelName, options: QueueHandlerOptions) {
    super(levelName, options);
    const { connection, preformat = false } = options;
    this.batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.preformat = preformat;
    this.#connection = connection;
    this.#flow = connection.shared ? new Int32Array(connection.shared) : undefined;
    // On the listener's own thread a wait for the listener could never end,
    // so nothing is capped there.
    const capped = this.#flow !== undefined && !isSameThread(connection);
    this.#maxInFlight = capped ? connection.maxInFlight ?? Infinity : Infinity;
    this.#maxInFlightBytes = capped ? connection.maxInFlightBytes ?? Infinity : Infinity;
    this.#overflow = connection.overflow ?? "block";
    this.#credit = capped ? 0 : Infinity;
    this.#byteCredit = capped ? 0 : Infinity;
    this.#batch = new BatchBuilder(this.batchSize);
    this.#formatting = new FormattingRecord(connection.name, connection.index);
    const port = connection.port as Partial<MessagePort>;
    if (typeof port.addEventListener === "function") {
      port.addEventListener("message", this.#onReply);
      port.start?.();
    }
    // At an exit the module's formatter may never come: held records go too.
    this.#stopPostingOnExit = postPendingOnExit(() => {
      this.#releaseHeld();
      this.#post();
    });
  }

  /** The sender's name as records carry it, e.g. "worker-2". */
  get name(): string {
    return this.#connection.name;
  }

  /** Adds the record to the current batch. Never throws. */
  override handle(record: LogRecord): void {
    if (this.level > record.level) return;
    if (this.#held !== undefined) return this.#hold(record);
    const kind = this.preformat ? LINES : RECORDS;
    if (!this.#reserve(kind, record.msg.length)) return;
    const seq = this.#seq++;
    const size = kind === LINES
      ? this.#batch.addLine(seq, record.level, this.#formatHere(seq, record))
      : this.#batch.addRecord(seq, record);
    this.#afterAdd(size);
  }

  /** Sends `msg` as a finished line at this handler's level (anything else as its description). */
  log(msg: string): void {
    const line = typeof msg === "string" ? msg : describe(msg);
    if (!this.#reserve(LINES, line.length)) return;
    this.#afterAdd(this.#batch.addLine(this.#seq++, this.level, line));
  }

  /**
   * Posts the current batch and resolves once the listener has written
   * every record sent before this call (an acknowledged round trip). Resolves
   * at once when the connection cannot carry replies or has been closed.
   * Records held for a preformat module's formatter go first, formatted as
   * they would be at an exit (waiting for the formatter could wait for ever:
   * a module that awaits this at its top level is still loading).
   */
  flush(): Promise<void> {
    this.#releaseHeld();
    this.#post();
    if (this.#closed || !this.#hearsReplies()) return Promise.resolve();
    const id = ++this.#flushIds;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#flushes.set(id, resolve);
    sendCounted(this.#connection.port, this.#flow, { kind: FLUSH, id });
    return promise;
  }

  /** Posts the current batch now. Called by `log.setup()` and on dispose. */
  override destroy(): void {
    this.#post();
  }

  // Reserves room for one record of about `size`: false when it must be
  // dropped (the cap with overflow "drop", or a closed listener). Posts the
  // batch first when the record would not fit in it.
  #reserve(kind: typeof RECORDS | typeof LINES, size: number): boolean {
    if ((this.#credit <= 0 || this.#byteCredit < size) && !this.#acquireCredit(size)) {
      this.#seq++;
      return false;
    }
    const batch = this.#batch;
    if (batch.size > 0 && (batch.kind !== kind || batch.bytes + size > MAX_BATCH_BYTES)) {
      this.#post();
    }
    return true;
  }

  #afterAdd(size: number) {
    this.#credit--;
    this.#byteCredit -= size;
    if (this.#postRequested()) {
      this.flush();
    } else if (this.#batch.size >= this.batchSize || this.#batch.bytes >= MAX_BATCH_BYTES) {
      this.#post();
    } else if (!this.#postQueued) {
      this.#postQueued = true;
      queueMicrotask(this.#postQueuedBatch);
    }
  }

  // Whether the listener has asked for the batch since this last looked:
  // the program is ending on a signal. A worker in a synchronous loop never
  // reads the POST_NOW message, so every log call reads the shared counter.
  #postRequested(): boolean {
    const flow = this.#flow;
    if (flow === undefined) return false;
    const requests = Atomics.load(flow, POST_REQUESTS);
    if (requests === this.#postRequestsSeen) return false;
    this.#postRequestsSeen = requests;
    return true;
  }

  #postQueuedBatch = () => {
    this.#postQueued = false;
    this.#post();
  };

  // Credit is how many records, and how many bytes, may still be buffered
  // (batch + in flight) without passing the caps; it is refreshed from the
  // shared counters only when it runs out, so the common path reads no
  // shared memory. Args are counted after they are captured, so a record
  // can pass the byte cap by its args; a record larger than the whole cap
  // goes when nothing else is buffered.
  #acquireCredit(size: number): boolean {
    const flow = this.#flow!;
    for (let waited = false;; waited = true) {
      if (Atomics.load(flow, CLOSED) !== 0) {
        Atomics.add(flow, REJECTED, 1);
        return false;
      }
      const handled = Atomics.load(flow, HANDLED);
      const buffered = ((this.#posted - handled) | 0) + this.#batch.size;
      const bufferedBytes = ((this.#postedBytes - Atomics.load(flow, HANDLED_BYTES)) | 0) +
        this.#batch.bytes;
      // Once it has had to wait, a sender goes on only when the listener has
      // caught up to half the caps (when it is woken), so it wakes once per
      // half window rather than once per batch.
      const recordsFit = buffered <=
        (waited ? resumeLevel(this.#maxInFlight) : this.#maxInFlight - 1);
      const bytesFit = bufferedBytes === 0 || bufferedBytes + size <=
          (waited ? resumeLevel(this.#maxInFlightBytes) : this.#maxInFlightBytes);
      if (recordsFit && bytesFit) {
        this.#credit = this.#maxInFlight - buffered;
        this.#byteCredit = this.#maxInFlightBytes - bufferedBytes;
        return true;
      }
      this.#post();
      if (this.#overflow === "drop") {
        Atomics.add(flow, DROPPED, 1);
        return false;
      }
      // WAITING is set before the wait, and HANDLED compared by the wait
      // itself, so a batch handled in between is never slept through.
      Atomics.store(flow, WAITING, 1);
      Atomics.wait(flow, HANDLED, handled, BLOCK_RECHECK_MS);
      Atomics.store(flow, WAITING, 0);
    }
  }

  #post() {
    const size = this.#batch.size;
    if (size === 0) return;
    const { batch, transfer } = this.#batch.take();
    const flow = this.#flow;
    if (flow !== undefined && Atomics.load(flow, CLOSED) !== 0) {
      Atomics.add(flow, REJECTED, size);
      return;
    }
    this.#posted = (this.#posted + size) | 0;
    this.#postedBytes = (this.#postedBytes + batch.size) | 0;
    if (flow !== undefined) {
      Atomics.store(flow, POSTED_BYTES, this.#postedBytes);
      Atomics.store(flow, POSTED, this.#posted);
    }
    sendCounted(this.#connection.port, flow, batch, transfer);
  }

  // Formats the record as the listener would have: as a WorkerLogRecord that
  // names this sender, with its args captured, so one formatter gives the
  // same line on either side.
  #formatHere(seq: number, record: LogRecord): string {
    let line: unknown;
    try {
      line = this.format(this.#formatting.load(seq, record));
    } catch (error) {
      return failedLine(record, describeError(error).message);
    }
    return typeof line === "string" ? line : coercedLine(line, record);
  }

  // A copy that keeps what the record was at the log call. Held records are
  // not counted against the caps, so at a cap they go.
  #hold(record: LogRecord) {
    const held = this.#held!;
    held.push(captureRecord(record, this.#connection.name, this.#connection.index, 0));
    this.#heldBytes += record.msg.length + capturedSize();
    if (held.length >= this.#maxInFlight || this.#heldBytes >= this.#maxInFlightBytes) {
      this.#releaseHeld();
    } else if (this.#postRequested()) {
      this.flush(); // which sends the held records too
    }
  }

  // Sends the held records, formatted with the formatter the handler has now.
  #releaseHeld() {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.#heldBytes = 0;
    for (const record of held) this.handle(record);
  }

  #hearsReplies(): boolean {
    return typeof (this.#connection.port as Partial<MessagePort>).addEventListener ===
      "function";
  }

  #onReply = (event: Event) => {
    const message = (event as MessageEvent<ListenerMessage>).data;
    if (message.kind === FLUSHED) {
      this.#flushes.get(message.id)?.();
      this.#flushes.delete(message.id);
    } else if (message.kind === POST_NOW) {
      if (this.#flow !== undefined) {
        this.#postRequestsSeen = Atomics.load(this.#flow, POST_REQUESTS);
      }
      this.flush();
    } else if (message.kind === CLOSING) {
      this.#closed = true;
      this.#stopPostingOnExit();
      for (const resolve of this.#flushes.values()) resolve();
      this.#flushes.clear();
    }
  };

  static {
    holdUntilFormatter = (handler) => {
      handler.#held = [];
      return (formatter) => {
        handler.formatter = formatter;
        handler.#releaseHeld();
      };
    };
  }
}

// The line of a record whose formatter failed: the record is kept.
function failedLine(record: LogRecord, problem: string): string {
  return `${record.levelName} ${record.msg} [formatter failed: ${problem}]`;
}

// What a formatter returned that is not a string, made one as a template
// literal would; String() itself throws for some values (no prototype).
function coercedLine(result: unknown, record: LogRecord): string {
  try {
    return String(result);
  } catch {
    return failedLine(record, `it returned ${describeError(result).message}, not a string`);
  }
}
