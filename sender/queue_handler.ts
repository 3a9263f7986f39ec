import { BaseHandler, type BaseHandlerOptions, type LevelName, type LogRecord } from "@std/log";
import { InvalidOptionError } from "../errors.ts";
import { FormattingRecord } from "./_formatting_record.ts";
import {
  CLOSED,
  DROPPED,
  HANDLED,
  type OverflowPolicy,
  POSTED,
  REJECTED,
  resumeLevel,
  sendCounted,
} from "../common/_flow.ts";
import {
  BatchBuilder,
  CLOSING,
  FLUSH,
  FLUSHED,
  isSameThread,
  LINES,
  type ListenerMessage,
  type QueueConnection,
  RECORDS,
} from "../common/_wire.ts";

/** Records per batch unless `batchSize` says otherwise. */
export const DEFAULT_BATCH_SIZE = 512;

// How long a blocked sender sleeps before it looks again whether the
// listener has closed; a notify from the listener wakes it sooner.
const BLOCK_RECHECK_MS = 50;

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
export interface QueueHandlerOptions extends BaseHandlerOptions {
  /** Where to send: from `QueueListener.connect()` or the worker's setup. */
  connection: QueueConnection;
  /**
   * Format each record here, with this handler's formatter, and send the
   * finished line; the listener's handlers then write it as it is. Use it
   * when the formatter is a pure function of the record. Default: false.
   */
  preformat?: boolean;
  /** Records per batch; a full batch is posted at once. Default: 512. */
  batchSize?: number;
}

/**
 * The sending half: an @std/log handler that streams records to a
 * {@linkcode QueueListener}, usually from inside a worker.
 *
 * `handle()` appends the record to a batch, capturing its args as JSON-safe
 * data; the batch is posted when it holds `batchSize` records or at the end
 * of the current task, whichever comes first, so a burst of log calls costs
 * one message. `handle()` never throws. When the listener falls behind, the
 * connection's overflow policy applies: "block" waits (the worker thread
 * sleeps on a shared counter), "drop" counts and drops.
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
  readonly #overflow: OverflowPolicy;
  readonly #batch: BatchBuilder;
  readonly #formatting: FormattingRecord;
  #seq = 0;
  #posted = 0;
  #credit = 0;
  #postQueued = false;
  #flushIds = 0;
  #flushes = new Map<number, () => void>();
  #closed = false;

  /** Builds a handler that sends to `options.connection`. */
  constructor(levelName: LevelName, options: QueueHandlerOptions) {
    super(levelName, options);
    const { connection, preformat = false, batchSize = DEFAULT_BATCH_SIZE } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InvalidOptionError("batchSize", batchSize, "a whole number of at least 1");
    }
    this.preformat = preformat;
    this.batchSize = batchSize;
    this.#connection = connection;
    this.#flow = connection.shared ? new Int32Array(connection.shared) : undefined;
    // On the listener's own thread a wait for the listener could never end,
    // so nothing is capped there.
    this.#maxInFlight = isSameThread(connection) ? Infinity : connection.maxInFlight ?? Infinity;
    this.#overflow = connection.overflow ?? "block";
    this.#credit = this.#flow ? 0 : Infinity;
    this.#batch = new BatchBuilder(batchSize);
    this.#formatting = new FormattingRecord(connection.name, connection.index);
    const port = connection.port as Partial<MessagePort>;
    if (typeof port.addEventListener === "function") {
      port.addEventListener("message", this.#onReply);
      port.start?.();
    }
  }

  /** The sender's name as records carry it, e.g. "worker-2". */
  get name(): string {
    return this.#connection.name;
  }

  /** Adds the record to the current batch. Never throws. */
  override handle(record: LogRecord): void {
    if (this.level > record.level) return;
    const kind = this.preformat ? LINES : RECORDS;
    const seq = this.#reserve(kind);
    if (seq < 0) return;
    if (kind === LINES) {
      this.#batch.addLine(seq, record.level, this.#formatHere(seq, record));
    } else {
      this.#batch.addRecord(seq, record);
    }
    this.#afterAdd();
  }

  /** Sends `msg` as a finished line at this handler's level. */
  log(msg: string): void {
    const seq = this.#reserve(LINES);
    if (seq < 0) return;
    this.#batch.addLine(seq, this.level, msg);
    this.#afterAdd();
  }

  /**
   * Posts the current batch and resolves once the listener has written
   * every record sent before this call (an acknowledged round trip). Resolves
   * at once when the connection cannot carry replies or has been closed.
   */
  flush(): Promise<void> {
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

  #reserve(kind: typeof RECORDS | typeof LINES): number {
    const seq = this.#seq++;
    if (this.#credit <= 0 && !this.#acquireCredit()) return -1;
    this.#credit--;
    if (this.#batch.size > 0 && this.#batch.kind !== kind) this.#post();
    return seq;
  }

  #afterAdd() {
    if (this.#batch.size >= this.batchSize) {
      this.#post();
    } else if (!this.#postQueued) {
      this.#postQueued = true;
      queueMicrotask(this.#postQueuedBatch);
    }
  }

  #postQueuedBatch = () => {
    this.#postQueued = false;
    this.#post();
  };

  // Credit is how many records may still be buffered (batch + in flight)
  // without passing the cap; it is refreshed from the shared counters only
  // when it runs out, so the common path reads no shared memory.
  #acquireCredit(): boolean {
    const flow = this.#flow;
    if (flow === undefined) {
      this.#credit = Infinity;
      return true;
    }
    for (let waited = false;; waited = true) {
      if (Atomics.load(flow, CLOSED) !== 0) {
        Atomics.add(flow, REJECTED, 1);
        return false;
      }
      const handled = Atomics.load(flow, HANDLED);
      const buffered = ((this.#posted - handled) | 0) + this.#batch.size;
      // Once it has had to wait, a sender goes on only when the listener has
      // caught up to half the cap (when it is woken), so it wakes once per
      // half window rather than once per batch.
      const resumeAt = waited ? resumeLevel(this.#maxInFlight) : this.#maxInFlight - 1;
      if (buffered <= resumeAt) {
        this.#credit = this.#maxInFlight - buffered;
        return true;
      }
      this.#post();
      if (this.#overflow === "drop") {
        Atomics.add(flow, DROPPED, 1);
        return false;
      }
      Atomics.wait(flow, HANDLED, handled, BLOCK_RECHECK_MS);
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
    if (flow !== undefined) Atomics.store(flow, POSTED, this.#posted);
    sendCounted(this.#connection.port, flow, batch, transfer);
  }

  // Formats the record as the listener would have: as a WorkerLogRecord that
  // names this sender, with its args captured, so one formatter gives the
  // same line on either side.
  #formatHere(seq: number, record: LogRecord): string {
    try {
      return this.format(this.#formatting.load(seq, record));
    } catch (error) {
      return `${record.levelName} ${record.msg} [formatter failed: ${
        error instanceof Error ? error.message : String(error)
      }]`;
    }
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
    } else if (message.kind === CLOSING) {
      this.#closed = true;
      for (const resolve of this.#flushes.values()) resolve();
      this.#flushes.clear();
    }
  };
}
