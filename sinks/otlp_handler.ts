import { BaseHandler, type LevelName, type LogRecord } from "@std/log";
import type { LogsLines, ReportsErrors } from "../common/handler_hooks.ts";
import { within } from "../common/_within.ts";
import { type Batch, BatchQueue } from "./_otlp_batches.ts";
import {
  checkUrl,
  DEFAULT_LOGS_ENDPOINT,
  ENV_READER,
  type EnvReader,
  type OtlpEnvironment,
  readOtlpEnvironment,
} from "./_otlp_env.ts";
import { InvalidOptionError, OtlpExportError, type OtlpFault } from "../errors.ts";
import {
  type AttributeValue,
  bareLineJson,
  exportRequestEnvelope,
  logRecordJson,
  resourceJson,
} from "./_otlp_payload.ts";
import { describe, type ExportEvent, type ExportSettings, OtlpExporter } from "./_otlp_export.ts";
import { IoWorker } from "./_io_worker.ts";
import type { OtlpIoRequest } from "./_otlp_io_worker.ts";

export type { AttributeValue };

/**
 * Options of {@linkcode OtlpHandler}. Every one is optional: the endpoint,
 * headers, timeout and resource default from the OpenTelemetry environment
 * variables, then from OTel's defaults.
 *
 * @example Send to a collector with a token, as service "billing"
 * ```ts
 * import { OtlpHandler, type OtlpHandlerOptions } from "@workerlog/workerlog";
 *
 * const options: OtlpHandlerOptions = {
 *   endpoint: "http://collector:4318/v1/logs",
 *   headers: { authorization: "Bearer t0ken" },
 *   serviceName: "billing",
 *   resource: { "deployment.environment.name": "prod" },
 *   batchSize: 2_048,
 * };
 * const handler = new OtlpHandler("INFO", options);
 * ```
 */
export interface OtlpHandlerOptions {
  /**
   * The full logs URL, used as is. Default: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
   * (as is), else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/logs", else
   * "http://localhost:4318/v1/logs".
   */
  endpoint?: string;
  /**
   * Headers sent with every request, e.g. credentials. Default: parsed from
   * OTEL_EXPORTER_OTLP_LOGS_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS
   * ("key=value,key2=value2", values percent-encoded).
   */
  headers?: Record<string, string>;
  /**
   * The resource's `service.name`. Default: OTEL_SERVICE_NAME, else
   * `service.name` in OTEL_RESOURCE_ATTRIBUTES, else "unknown_service:deno".
   */
  serviceName?: string;
  /**
   * Resource attributes, added to (and overriding) those of
   * OTEL_RESOURCE_ATTRIBUTES.
   */
  resource?: Record<string, AttributeValue>;
  /** Records per request, at most. Default: 1,024. */
  batchSize?: number;
  /**
   * Bytes of JSON per request, at most (a single larger record goes
   * alone). Counted as UTF-16 code units, which is bytes for ASCII.
   * Default: 4 MiB.
   */
  maxBatchBytes?: number;
  /**
   * Records waiting for a request, at most; beyond, new records are
   * dropped, counted and reported. Batches being sent (at most
   * `maxInFlight`) come on top. Default: 65,536.
   */
  maxQueueSize?: number;
  /** The same limit in bytes of JSON (as `maxBatchBytes` counts them). Default: 64 MiB. */
  maxQueueBytes?: number;
  /** Requests at the same time, at most. Default: 2. */
  maxInFlight?: number;
  /** How long a partly filled batch waits for more records, in ms. Default: 1,000. */
  flushIntervalMs?: number;
  /**
   * How long one request may take, in ms, before it counts as failed (and
   * is retried). Default: OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, else
   * OTEL_EXPORTER_OTLP_TIMEOUT, else 10,000.
   */
  timeoutMs?: number;
  /**
   * Retries of a request that failed in a retryable way (429, 502, 503,
   * 504, no connection, timeout) before its records are dropped. Default: 5.
   */
  maxRetries?: number;
  /** The first backoff, in ms; doubled per retry, with jitter. Default: 500. */
  retryInitialDelayMs?: number;
  /**
   * The longest wait before a retry, in ms. A Retry-After asking for more
   * drops the batch (and says so) rather than hold it. Default: 30,000.
   */
  retryMaxDelayMs?: number;
  /**
   * How long `[Symbol.asyncDispose]()` (and so a QueueListener's `stop()`)
   * waits for queued records to be delivered, in ms. Default: 5,000.
   */
  closeTimeoutMs?: number;
  /**
   * The HTTP client for the requests, from `Deno.createHttpClient()`: CA
   * certificates for a collector behind a private CA, a proxy, pool
   * settings. The caller closes it, after the handler. Default: fetch's own.
   * Note that with keep-alive (the default) fetch itself sends a request
   * again, once, when a reused connection closes without an answer; such a
   * retry is not counted in `stats().retried`. A Deno.HttpClient cannot move
   * to another thread, so with one the requests go from the handler's own
   * thread, where a flood of records can hold up their answers; without one
   * they go from the handler's worker.
   */
  httpClient?: Deno.HttpClient;
  /**
   * Where faults go when the handler is used without a QueueListener (a
   * listener passes its own `onError`). Default: `console.error`.
   */
  onError?: (error: Error) => void;
}

/**
 * What an {@linkcode OtlpHandler} has done with the records it took.
 * `received === sent + dropped + pending` at every moment.
 *
 * @example Check that everything arrived
 * ```ts
 * import { OtlpHandler } from "@workerlog/workerlog";
 *
 * const handler = new OtlpHandler("INFO", { endpoint: "http://127.0.0.1:4318/v1/logs" });
 * const { received, exported, dropped, rejected } = handler.stats();
 * console.log(received === exported && dropped === 0 && rejected === 0); // true
 * ```
 */
export interface OtlpHandlerStats {
  /** Records the handler took (at or above its level). */
  received: number;
  /** Records in requests the receiver answered with success. */
  sent: number;
  /** Of those, the ones it kept: `sent - rejected`. */
  exported: number;
  /** Records the receiver refused in a partial success answer. */
  rejected: number;
  /**
   * Records given up: queue full, retries used up, a non-retryable answer,
   * or not delivered when the handler was destroyed.
   */
  dropped: number;
  /** Requests that were retries of an earlier one. */
  retried: number;
  /** Requests that failed: no answer, or an answer other than 2xx. */
  failedRequests: number;
  /** Batches being sent now, or waiting to be retried. */
  inFlight: number;
  /** Records not yet sent nor dropped: queued or in flight. */
  pending: number;
}

// The environment variables this handler reads, for messages.
const ENV_HINT = "--allow-env=OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,OTEL_EXPORTER_OTLP_ENDPOINT," +
  "OTEL_EXPORTER_OTLP_LOGS_HEADERS,OTEL_EXPORTER_OTLP_HEADERS,OTEL_EXPORTER_OTLP_LOGS_TIMEOUT," +
  "OTEL_EXPORTER_OTLP_TIMEOUT,OTEL_SERVICE_NAME,OTEL_RESOURCE_ATTRIBUTES";

/** Where the handler's batches are sent from: its I/O worker, or its own thread. */
interface BatchSender {
  /** Sends the body (it may be moved away) of batch `seq` of `count` records. */
  send(seq: number, count: number, body: Uint8Array<ArrayBuffer>): void;
  /** Whether the program must wait for the sender (a request in flight, a close). */
  keepAlive(on: boolean): void;
  /** Handles the reports that have come, now. */
  poll(): void;
  /** Stops at once: requests aborted, nothing more reported. */
  stop(): void;
}

/**
 * An @std/log handler that sends records to an OpenTelemetry collector (or
 * any OTLP receiver) over OTLP/HTTP, JSON-encoded, to its `/v1/logs`.
 *
 * Each record becomes an OTLP LogRecord: `timeUnixNano` is when it was
 * logged (in its worker), `observedTimeUnixNano` when this handler took it;
 * severity DEBUG 5, INFO 9, WARN 13, ERROR 17, CRITICAL 21 with the level's
 * name as `severityText`; the message is the body; attributes `logger`,
 * `worker`, `worker.index`, `seq` and `args` (as structured values). They
 * are sent under the scope "workerlog" and a resource with `service.name`.
 *
 * `handle()` never blocks and never throws: it encodes the record into a
 * bounded queue. Full batches go at once, a partial one after
 * `flushIntervalMs`, at most `maxInFlight` requests at a time. The requests
 * are made by a worker thread of the handler's own (started with the first
 * batch, or when a QueueListener starts), so that they go on while a flood
 * of records keeps the listener's thread busy; the program waits for the
 * requests in flight, not for the idle worker. Requests
 * answered 429, 502, 503 or 504, or not answered, are retried with
 * exponential backoff (or after the Retry-After the receiver gives); other
 * failures drop the batch. Every fault is counted in `stats()` and reported
 * once per episode, through a QueueListener's `onError` when it runs under
 * one. `await drained()` waits for everything taken so far;
 * `await handler[Symbol.asyncDispose]()`, which a QueueListener's `stop()`
 * calls, sends what is queued within `closeTimeoutMs` and closes (and stops
 * the worker; `destroy()` stops it at once).
 *
 * Works under a QueueListener, where records carry their worker, and on its
 * own with `log.setup()` (worker "main").
 *
 * @example Every worker's records to a collector
 * ```ts ignore
 * import { OtlpHandler, spawn } from "@workerlog/workerlog";
 *
 * await spawn(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new OtlpHandler("INFO", { serviceName: "importer" })],
 * });
 * ```
 *
 * @example On its own, endpoint from OTEL_EXPORTER_OTLP_ENDPOINT
 * ```ts ignore
 * import * as log from "@std/log";
 * import { OtlpHandler } from "@workerlog/workerlog";
 *
 * await using otlp = new OtlpHandler("DEBUG");
 * log.setup({ handlers: { otlp }, loggers: { default: { level: "DEBUG", handlers: ["otlp"] } } });
 * log.info("hello", { user: 42 });
 * await otlp.drained();
 * ```
 */
export class OtlpHandler extends BaseHandler implements ReportsErrors, LogsLines, AsyncDisposable {
  /** The logs URL records are posted to. */
  readonly endpoint: string;
  readonly #client: Deno.HttpClient | undefined;
  readonly #settings: ExportSettings;
  readonly #queue: BatchQueue;
  readonly #maxInFlight: number;
  readonly #flushIntervalMs: number;
  readonly #closeTimeoutMs: number;
  readonly #maxQueueSize: number;
  #report: (error: Error) => void;
  #notices: OtlpExportError[] = [];
  readonly #episodes = new Set<OtlpFault>();
  /** Batches handed to the sender and not done with: seq -> records. */
  readonly #inFlight = new Map<number, number>();
  #sender: BatchSender | undefined;
  #disposing = false;
  #waiters: { seq: number; resolve: () => void }[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushDue = false;
  #destroyed = false;
  #disposed: Promise<void> | undefined;
  #received = 0;
  #sent = 0;
  #rejected = 0;
  #dropped = 0;
  #retried = 0;
  #failedRequests = 0;

  /**
   * Builds the handler. Throws InvalidOptionError for an option (or an
   * OTEL_* variable) it cannot use. Sends nothing until records come.
   */
  constructor(levelName: LevelName, options: OtlpHandlerOptions = {}) {
    super(levelName);
    checkObject("options", options);
    const environment = readOtlpEnvironment({
      endpoint: options.endpoint === undefined,
      headers: options.headers === undefined,
      timeout: options.timeoutMs === undefined,
    }, (options as { [ENV_READER]?: EnvReader })[ENV_READER]);
    this.endpoint = options.endpoint === undefined
      ? environment.endpoint ?? DEFAULT_LOGS_ENDPOINT
      : checkUrl("endpoint", options.endpoint);
    const headers = {
      ...checkHeaders("headers", options.headers ?? environment.headers ?? {}),
      "content-type": "application/json",
    };
    const resource = resourceJson(buildResource(options, environment));
    if (options.httpClient !== undefined && !(options.httpClient instanceof Deno.HttpClient)) {
      throw new InvalidOptionError(
        "httpClient",
        options.httpClient,
        "a Deno.HttpClient, from Deno.createHttpClient()",
      );
    }
    this.#client = options.httpClient;
    const batchSize = checkWhole("batchSize", options.batchSize ?? 1_024, 1, 100_000);
    const maxQueueSize = checkWhole("maxQueueSize", options.maxQueueSize ?? 65_536, 1);
    if (maxQueueSize < batchSize) {
      throw new InvalidOptionError(
        "maxQueueSize",
        maxQueueSize,
        `at least batchSize (${batchSize}), so that a whole batch fits in the queue`,
      );
    }
    this.#maxQueueSize = maxQueueSize;
    this.#queue = new BatchQueue({
      batchSize,
      maxBatchBytes: checkWhole("maxBatchBytes", options.maxBatchBytes ?? 4 << 20, 1_024),
      maxRecords: maxQueueSize,
      maxBytes: checkWhole("maxQueueBytes", options.maxQueueBytes ?? 64 << 20, 1_024),
    }, exportRequestEnvelope(resource));
    this.#maxInFlight = checkWhole("maxInFlight", options.maxInFlight ?? 2, 1, 64);
    this.#flushIntervalMs = checkWhole("flushIntervalMs", options.flushIntervalMs ?? 1_000, 1);
    this.#settings = {
      endpoint: this.endpoint,
      headers,
      timeoutMs: checkWhole("timeoutMs", options.timeoutMs ?? environment.timeoutMs ?? 10_000, 1),
      maxRetries: checkWhole("maxRetries", options.maxRetries ?? 5, 0, 1_000),
      retryInitialDelayMs: checkWhole(
        "retryInitialDelayMs",
        options.retryInitialDelayMs ?? 500,
        1,
      ),
      retryMaxDelayMs: checkWhole("retryMaxDelayMs", options.retryMaxDelayMs ?? 30_000, 1),
    };
    this.#closeTimeoutMs = checkWhole("closeTimeoutMs", options.closeTimeoutMs ?? 5_000, 0);
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new InvalidOptionError("onError", options.onError, "a function (error) => void");
    }
    this.#report = options.onError ?? ((error) => console.error(error));
    this.#noteEnvironment(environment);
  }

  /** From now on, report faults to `report` (a QueueListener calls this on `start()`). */
  reportErrorsTo(report: (error: Error) => void): void {
    this.#report = report;
    // A listener is about to feed this handler: the I/O worker boots now,
    // not when the first batch is waiting for it.
    if (!this.#destroyed) this.#sender ??= this.#startSender();
  }

  /** Opens the handler again after `destroy()`, as `log.setup()` may ask. */
  override setup(): void {
    if (!this.#destroyed) return;
    this.#destroyed = false;
    this.#disposed = undefined;
    this.#disposing = false;
  }

  /** Encodes the record into the queue; never blocks, never throws. */
  override handle(record: LogRecord): void {
    if (record.level < this.level) return;
    this.#received++;
    let json: string;
    try {
      json = logRecordJson(record, Date.now());
    } catch (error) {
      // Only a standalone record with a msg whose toString() throws gets here.
      this.#dropped++;
      this.#fault("failed", 1, `Dropped a record that could not be encoded: ${describe(error)}.`);
      return;
    }
    this.#enqueue(json);
  }

  /** Sends `msg`, a finished line, as the body of a record with no severity; see `logLine()`. */
  log(msg: string): void {
    this.#received++;
    this.#enqueue(bareLineJson(msg, Date.now()));
  }

  /**
   * Sends a line that comes without its record, logged at `level` (a
   * QueueListener hands `preformat` lines, and with `respectHandlerLevel:
   * false` each `format(record)`, over this way, after checking the level):
   * the line is the body, with the level's severity and no attributes. Give
   * the handler records instead where you can.
   */
  logLine(level: number, line: string): void {
    this.#received++;
    this.#enqueue(bareLineJson(line, Date.now(), level));
  }

  /**
   * Sync and non-blocking, as a QueueListener calls it every event-loop
   * turn: makes sure a partly filled batch goes within `flushIntervalMs`.
   * It does not send at once, so that records go in full batches under
   * load. To wait for delivery, `await drained()`.
   */
  flush(): void {
    // Requests that finished free their slots now, not when the event loop
    // gets round to their reports (see _io_worker.ts).
    this.#sender?.poll();
    if (!this.#destroyed && this.#queue.hasPartial) this.#armFlushTimer();
  }

  /**
   * Resolves once every record taken so far has been sent, or dropped (see
   * `stats()`): sends a partial batch at once instead of waiting for
   * `flushIntervalMs`. Never rejects; `signal` stops the waiting (not the
   * sending).
   */
  drained(signal?: AbortSignal): Promise<void> {
    const target = this.#queue.lastSeq;
    if (this.#firstUnsettled() > target || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { seq: target, resolve };
      this.#waiters.push(waiter);
      signal?.addEventListener("abort", () => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        resolve();
      }, { once: true });
      this.#flushDue = true;
      this.#pump();
    });
  }

  /** The counters. */
  stats(): OtlpHandlerStats {
    let inFlightRecords = 0;
    for (const count of this.#inFlight.values()) inFlightRecords += count;
    return {
      received: this.#received,
      sent: this.#sent,
      exported: this.#sent - this.#rejected,
      rejected: this.#rejected,
      dropped: this.#dropped,
      retried: this.#retried,
      failedRequests: this.#failedRequests,
      inFlight: this.#inFlight.size,
      pending: this.#queue.records + inFlightRecords,
    };
  }

  /**
   * Sends what is queued, waiting at most `closeTimeoutMs`, then destroys
   * the handler. A QueueListener's `stop()` awaits it; so does
   * `await using`. Every call returns the same promise.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#disposed ??= this.#dispose();
  }

  /**
   * Stops at once and never waits: clears the timers, aborts the requests
   * in flight and counts every record not yet sent as dropped (reported if
   * there were any). Use `[Symbol.asyncDispose]()` to deliver them first.
   */
  override destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#clearFlushTimer();
    let undelivered = this.#queue.clear();
    for (const count of this.#inFlight.values()) undelivered += count;
    this.#inFlight.clear();
    this.#sender?.stop();
    this.#sender = undefined;
    if (undelivered > 0) {
      this.#dropped += undelivered;
      this.#fault(
        "undelivered",
        undelivered,
        `${undelivered} records were not delivered to ${this.endpoint} when the OtlpHandler ` +
          `closed. Await handler[Symbol.asyncDispose]() (a QueueListener's stop() does) rather ` +
          `than destroy(), and raise closeTimeoutMs if the receiver needs longer.`,
      );
    }
    this.#settle();
  }

  async #dispose() {
    if (!this.#destroyed) {
      // The program waits for the last requests, and no longer.
      this.#disposing = true;
      this.#sender?.keepAlive(true);
      const stopWaiting = new AbortController();
      try {
        await within(this.drained(stopWaiting.signal), this.#closeTimeoutMs, undefined);
      } finally {
        stopWaiting.abort();
      }
    }
    this.destroy();
  }

  #enqueue(json: string) {
    if (this.#destroyed) {
      this.#dropped++;
      this.#fault(
        "undelivered",
        1,
        `The OtlpHandler for ${this.endpoint} was given a record after it was closed; ` +
          `it was dropped. Close the handler only after the last record.`,
      );
      return;
    }
    let pushed = this.#queue.push(json);
    if (pushed === false && this.#sender !== undefined) {
      // Finished requests may have made room.
      this.#sender.poll();
      pushed = this.#queue.push(json);
    }
    if (pushed === false) {
      this.#dropped++;
      this.#fault(
        "queue-full",
        0,
        `The OtlpHandler's queue is full (maxQueueSize ${this.#maxQueueSize} records, or ` +
          `maxQueueBytes): new records are dropped and counted until it drains. The receiver at ` +
          `${this.endpoint} takes records slower than they are logged, or not at all; raise ` +
          `maxQueueSize or maxInFlight, or log less.`,
      );
    } else if (pushed === "sealed") {
      // Under a flood the listener's flush() (a timer) comes rarely: a
      // sealed batch is the moment to see which requests finished.
      this.#sender?.poll();
      this.#pump();
    } else if (this.#flushTimer === undefined) {
      this.#armFlushTimer();
    }
  }

  #armFlushTimer() {
    if (this.#flushTimer !== undefined) return;
    // Not unref'd: it only runs while records wait, and they are sent when it fires.
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flushDue = true;
      this.#pump();
    }, this.#flushIntervalMs);
  }

  #clearFlushTimer() {
    if (this.#flushTimer === undefined) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  // Starts requests while there are slots and batches to send. A partial
  // batch is sealed only when it is due (interval, drained()) and a slot is
  // free, so that under load batches fill up while the slots are busy.
  #pump() {
    while (!this.#destroyed && this.#inFlight.size < this.#maxInFlight) {
      if (!this.#queue.hasReady) {
        if (!this.#flushDue || !this.#queue.hasPartial) break;
        this.#queue.seal();
        this.#flushDue = false;
      }
      this.#deliver(this.#queue.take()!);
    }
    if (!this.#queue.hasPartial) this.#clearFlushTimer();
    if (this.#queue.records === 0) this.#episodes.delete("queue-full");
  }

  #deliver(batch: Batch) {
    this.#inFlight.set(batch.seq, batch.count);
    this.#reportNotices();
    const sender = this.#sender ??= this.#startSender();
    if (this.#inFlight.size === 1) sender.keepAlive(true);
    sender.send(batch.seq, batch.count, batch.body);
  }

  // Requests go from an I/O worker, whose event loop nothing floods (see
  // _io_worker.ts); with the user's own HttpClient, which cannot move to
  // another thread, from this one.
  #startSender(): BatchSender {
    const onEvent = (event: ExportEvent) => this.#onExportEvent(event);
    if (this.#client !== undefined) {
      const exporter = new OtlpExporter(this.#settings, this.#client, onEvent);
      return {
        send: (seq, count, body) => exporter.export(seq, count, body),
        keepAlive: () => {},
        poll: () => {},
        stop: () => exporter.abort(),
      };
    }
    const io = new IoWorker<OtlpIoRequest, ExportEvent>(
      new URL("./_otlp_io_worker.ts", import.meta.url),
      onEvent,
      (error) =>
        this.#emit(
          new OtlpExportError(
            "failed",
            this.endpoint,
            0,
            `The OtlpHandler's I/O worker failed: ${error.message}. Nothing more is sent; ` +
              `what is queued is dropped at close. Please report this.`,
          ),
        ),
    );
    io.post({ kind: "setup", settings: this.#settings });
    return {
      send: (seq, count, body) =>
        io.post({ kind: "export", seq, count, body }, [body.buffer as ArrayBuffer]),
      // A request in flight keeps the program alive, as fetch did on this
      // thread, and its answer must come promptly: it frees a slot.
      keepAlive: (on) => on ? io.listen() : io.unlisten(),
      poll: () => io.takeReports(),
      stop: () => io.terminate(),
    };
  }

  #onExportEvent(event: ExportEvent) {
    if (this.#destroyed) return;
    switch (event.type) {
      case "failed-request":
        this.#failedRequests++;
        break;
      case "retry":
        this.#retried++;
        break;
      case "fault":
        this.#fault(event.fault, event.records, event.message, event.status);
        break;
      case "clear":
        for (const fault of event.faults) this.#episodes.delete(fault);
        break;
      case "done":
        this.#sent += event.sent;
        this.#dropped += event.dropped;
        this.#rejected += event.rejected;
        if (event.fault !== undefined) {
          const { fault, records, message, status } = event.fault;
          this.#fault(fault, records, message, status);
        }
        for (const fault of event.clear ?? []) this.#episodes.delete(fault);
        this.#inFlight.delete(event.seq);
        if (this.#inFlight.size === 0 && !this.#disposing) this.#sender?.keepAlive(false);
        this.#settle();
        this.#pump();
        break;
    }
  }

  // The lowest batch seq not yet sent or dropped (Infinity when none).
  #firstUnsettled(): number {
    let first = this.#queue.firstSeq ?? Infinity;
    for (const seq of this.#inFlight.keys()) first = Math.min(first, seq);
    return first;
  }

  #settle() {
    if (this.#waiters.length === 0) return;
    const first = this.#firstUnsettled();
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.seq >= first) return true;
      waiter.resolve();
      return false;
    });
  }

  // Reports a fault, unless one of its kind is already being reported.
  #fault(fault: OtlpFault, records: number, message: string, status?: number) {
    if (this.#episodes.has(fault)) return;
    this.#episodes.add(fault);
    this.#emit(new OtlpExportError(fault, this.endpoint, records, message, status));
  }

  #emit(error: Error) {
    try {
      this.#report(error);
    } catch (thrown) {
      console.error("workerlog: onError threw", thrown, "while reporting", error);
    }
  }

  #noteEnvironment(environment: OtlpEnvironment) {
    const problems: string[] = [];
    if (environment.unreadable.length > 0) {
      problems.push(
        `could not read ${environment.unreadable.join(", ")} (no --allow-env permission), ` +
          `so it uses its options and OTel's defaults (endpoint ${this.endpoint}). ` +
          `Run with ${ENV_HINT} to use them`,
      );
    }
    if (environment.ignored.length > 0) {
      problems.push(`ignored ${environment.ignored.join("; ")}`);
    }
    if (problems.length === 0) return;
    this.#notices.push(
      new OtlpExportError(
        "environment",
        this.endpoint,
        0,
        `OtlpHandler ${problems.join("; it ")}.`,
      ),
    );
  }

  // Environment notices wait for the first request, so that they reach the
  // reporter a QueueListener sets on start().
  #reportNotices() {
    if (this.#notices.length === 0) return;
    for (const notice of this.#notices) this.#emit(notice);
    this.#notices = [];
  }
}

function buildResource(
  options: OtlpHandlerOptions,
  environment: OtlpEnvironment,
): Record<string, AttributeValue> {
  const resource: Record<string, AttributeValue> = {
    "service.name": "unknown_service:deno",
    ...environment.resource,
  };
  if (options.resource !== undefined) {
    checkObject("resource", options.resource);
    for (const [key, value] of Object.entries(options.resource)) {
      if (!["string", "number", "boolean"].includes(typeof value)) {
        throw new InvalidOptionError(`resource.${key}`, value, "a string, number or boolean");
      }
      resource[key] = value;
    }
  }
  if (options.serviceName !== undefined) {
    if (typeof options.serviceName !== "string" || options.serviceName === "") {
      throw new InvalidOptionError("serviceName", options.serviceName, 'a name, e.g. "billing"');
    }
    resource["service.name"] = options.serviceName;
  }
  return resource;
}

function checkObject(option: string, value: unknown) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, value, "an object");
  }
}

function checkHeaders(option: string, value: unknown): Record<string, string> {
  checkObject(option, value);
  const headers = value as Record<string, unknown>;
  for (const [name, text] of Object.entries(headers)) {
    let valid = typeof text === "string";
    try {
      if (valid) new Headers({ [name]: text as string });
    } catch {
      valid = false;
    }
    if (!valid) {
      throw new InvalidOptionError(
        `${option}.${name}`,
        text,
        "a valid HTTP header name with a string value",
      );
    }
  }
  return headers as Record<string, string>;
}

function checkWhole(option: string, value: unknown, min: number, max = Infinity): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const range = max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(option, value, `a whole number ${range}`);
  }
  return value as number;
}
