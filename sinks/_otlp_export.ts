/**
 * The OtlpHandler's requests: one finished batch body POSTed with its
 * timeout, retried on 429/502/503/504 or no answer (after the Retry-After
 * asked for, else with backoff), given up on otherwise, and the answer's
 * partial success read. It runs in the handler's I/O worker
 * (`_otlp_io_worker.ts`), or on the handler's own thread when the user gave
 * an `httpClient` (a Deno.HttpClient cannot move to another thread). It
 * only tells the handler what happened (`ExportEvent`); the handler counts
 * and reports.
 *
 * @module
 */
import type { OtlpFault } from "../errors.ts";
import { backoffMs, isRetryableStatus, retryAfterMs, sleep } from "./_otlp_retry.ts";

/** What the requests need, besides the client. */
export interface ExportSettings {
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
}

/** What happened to a batch's requests, in order. */
export type ExportEvent =
  /** A request failed (no answer, or not 2xx); `retry`: another one follows. */
  | { type: "failed-request" }
  /** A request that repeats an earlier one starts. */
  | { type: "retry" }
  /** A fault to report, once per episode of its kind. */
  | { type: "fault"; fault: OtlpFault; records: number; message: string; status?: number }
  /** An episode of these faults is over. */
  | { type: "clear"; faults: OtlpFault[] }
  /**
   * The batch is done with: `sent` (answered 2xx, of which `rejected`
   * refused) or `dropped`; then `fault` is reported (or the episodes in
   * `clear` end) before anyone waiting for the batch hears of it.
   */
  | {
    type: "done";
    seq: number;
    sent: number;
    dropped: number;
    rejected: number;
    fault?: ExportFault;
    clear?: OtlpFault[];
  };

/** A fault to report, once per episode of its kind. */
export type ExportFault = Extract<ExportEvent, { type: "fault" }>;

type Outcome =
  | { kind: "ok"; body: string }
  | { kind: "retry"; cause: string; status?: number; retryAfterMs?: number }
  | { kind: "fatal"; cause: string; status?: number; retryAfterMs?: undefined }
  | { kind: "aborted" };

/** Sends batch bodies as requests; reports through `emit`. */
export class OtlpExporter {
  readonly #settings: ExportSettings;
  readonly #client: Deno.HttpClient | undefined;
  readonly #emit: (event: ExportEvent) => void;
  readonly #abort = new AbortController();

  constructor(
    settings: ExportSettings,
    client: Deno.HttpClient | undefined,
    emit: (event: ExportEvent) => void,
  ) {
    this.#settings = settings;
    this.#client = client;
    this.#emit = emit;
  }

  /** Aborts every request and wait; nothing more is emitted. */
  abort(): void {
    this.#abort.abort();
  }

  /** Sends the batch `seq` of `count` records until done; emits "done" unless aborted first. */
  async export(seq: number, count: number, body: Uint8Array<ArrayBuffer>): Promise<void> {
    const { endpoint, maxRetries, retryInitialDelayMs, retryMaxDelayMs } = this.#settings;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) this.#emit({ type: "retry" });
      const outcome = await this.#post(body);
      if (this.#abort.signal.aborted) return; // destroyed meanwhile: counted there
      if (outcome.kind === "ok") {
        this.#emit({ type: "clear", faults: ["unavailable", "failed"] });
        const { rejected, fault } = this.#readPartialSuccess(outcome.body, count);
        this.#emit({
          type: "done",
          seq,
          sent: count,
          dropped: 0,
          rejected,
          fault,
          clear: fault === undefined ? ["rejected"] : [],
        });
        return;
      }
      this.#emit({ type: "failed-request" });
      if (outcome.kind === "aborted") return;
      const giveUp = this.#giveUpReason(outcome, attempt);
      if (giveUp !== undefined) {
        this.#emit({
          type: "done",
          seq,
          sent: 0,
          dropped: count,
          rejected: 0,
          fault: {
            type: "fault",
            fault: "failed",
            records: count,
            message: giveUp,
            status: outcome.status,
          },
        });
        return;
      }
      const wait = outcome.retryAfterMs ??
        backoffMs(attempt + 1, retryInitialDelayMs, retryMaxDelayMs);
      this.#emit({
        type: "fault",
        fault: "unavailable",
        records: count,
        message: `The OTLP receiver at ${endpoint} ${outcome.cause}; retrying (up to ` +
          `${maxRetries} times per batch${
            outcome.retryAfterMs === undefined ? "" : ", after the Retry-After it asks for"
          }). Records wait in the queue meanwhile. Check that the collector is running and reachable.`,
        status: outcome.status,
      });
      await sleep(wait, this.#abort.signal);
      if (this.#abort.signal.aborted) return;
    }
  }

  // Why a failed request is not retried, or undefined to retry it.
  #giveUpReason(outcome: Outcome & { kind: "retry" | "fatal" }, attempt: number) {
    const { endpoint, maxRetries, retryMaxDelayMs } = this.#settings;
    const dropped = (why: string) => `Dropped records: the OTLP receiver at ${endpoint} ${why}`;
    if (outcome.kind === "fatal") return dropped(`${outcome.cause}.`);
    if (attempt >= maxRetries) {
      return dropped(
        `${outcome.cause}, ${attempt + 1} times in a row. Check the collector; ` +
          `raise maxRetries or retryMaxDelayMs to wait longer.`,
      );
    }
    if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > retryMaxDelayMs) {
      return dropped(
        `${outcome.cause} and asked to retry after ${outcome.retryAfterMs} ms, longer than ` +
          `retryMaxDelayMs (${retryMaxDelayMs}); raise retryMaxDelayMs to wait that long.`,
      );
    }
    return undefined;
  }

  // One request, with its timeout; never throws.
  async #post(body: Uint8Array<ArrayBuffer>): Promise<Outcome> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#settings.timeoutMs);
    const signal = AbortSignal.any([this.#abort.signal, timeout.signal]);
    try {
      const response = await fetch(this.#settings.endpoint, {
        method: "POST",
        headers: this.#settings.headers,
        body,
        signal,
        client: this.#client,
      });
      let text = "";
      try {
        text = await response.text();
      } catch (error) {
        // The status line came; a 2xx has been processed even if its body was cut.
        if (!response.ok) return this.#noAnswer(error, timeout.signal);
      }
      if (response.ok) return { kind: "ok", body: text };
      return this.#refusal(response, text);
    } catch (error) {
      return this.#noAnswer(error, timeout.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  #noAnswer(error: unknown, timeout: AbortSignal): Outcome {
    if (this.#abort.signal.aborted) return { kind: "aborted" };
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      const host = new URL(this.#settings.endpoint).host;
      return {
        kind: "fatal",
        cause: `may not be reached: no network permission (${describe(error)}). ` +
          `Run with --allow-net=${host}`,
      };
    }
    if (timeout.aborted) {
      return { kind: "retry", cause: `did not answer within ${this.#settings.timeoutMs} ms` };
    }
    return { kind: "retry", cause: `could not be reached (${describe(error)})` };
  }

  #refusal(response: Response, text: string): Outcome {
    const status = response.status;
    const said = statusMessage(text);
    const cause = `answered ${status} ${response.statusText}${said ? `: ${said}` : ""}`;
    if (isRetryableStatus(status)) {
      return {
        kind: "retry",
        cause,
        status,
        retryAfterMs: retryAfterMs(response.headers.get("retry-after"), Date.now()),
      };
    }
    return { kind: "fatal", cause: `${cause}. ${hintFor(status)}`, status };
  }

  #readPartialSuccess(
    text: string,
    count: number,
  ): { rejected: number; fault?: ExportFault } {
    let rejected = 0;
    let message = "";
    try {
      const partial = text === "" ? undefined : JSON.parse(text)?.partialSuccess;
      rejected = Number(partial?.rejectedLogRecords ?? 0);
      message = typeof partial?.errorMessage === "string" ? partial.errorMessage : "";
    } catch {
      // Not JSON: the request succeeded, there is no partial success to read.
    }
    rejected = Number.isSafeInteger(rejected) && rejected > 0 ? Math.min(rejected, count) : 0;
    if (rejected === 0 && message === "") return { rejected };
    return {
      rejected,
      fault: {
        type: "fault",
        fault: "rejected",
        records: rejected,
        message: `The OTLP receiver at ${this.#settings.endpoint} took a batch of ${count} ` +
          `records but rejected ${rejected}${message ? `: ${message}` : ""}. They are counted ` +
          `in stats().rejected; check the receiver's limits and logs.`,
      },
    };
  }
}

// What a refusing receiver said: google.rpc.Status's message, or the text.
function statusMessage(text: string): string {
  if (text === "") return "";
  try {
    const message = JSON.parse(text)?.message;
    if (typeof message === "string") return message.slice(0, 300);
  } catch {
    // Not JSON: quote the start of the text.
  }
  return text.slice(0, 300);
}

function hintFor(status: number): string {
  switch (status) {
    case 400:
      return "It found the payload malformed; please report this as a workerlog bug, with the message";
    case 401:
    case 403:
      return "Check the credentials in the headers option or OTEL_EXPORTER_OTLP_HEADERS";
    case 404:
    case 405:
      return "Check the endpoint: the full logs URL (ending in /v1/logs) in the endpoint option or " +
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, or a base URL in OTEL_EXPORTER_OTLP_ENDPOINT";
    case 413:
      return "The request was too large for it: lower batchSize or maxBatchBytes";
    case 415:
      return "It does not take OTLP/JSON: check that the endpoint is an OTLP/HTTP receiver";
    default:
      return "The request is not retried: check the receiver's logs";
  }
}

/** An error's message, or the thing as text. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
