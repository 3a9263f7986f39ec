// An OTLP/HTTP receiver for the tests: Deno.serve on 127.0.0.1, port 0,
// taking OTLP/JSON at /v1/logs. It checks every payload against the shape
// of ExportLogsServiceRequest in the protobuf JSON mapping that OTLP uses
// (opentelemetry-proto logs/v1, common/v1, resource/v1), answers as an OTLP
// receiver does, keeps what it accepted, and injects faults on request:
// retryable statuses with Retry-After, connections closed without an
// answer, slow answers, partial success.
//
// Connections reach Deno.serve through a small TCP relay in this file, so
// that a request can be answered by closing its connection: Deno.serve
// itself always answers.

/** A fault for the next request to /v1/logs (one fault per request, in order). */
export type Fault =
  /** Answer this status, e.g. 503 with Retry-After "1", without keeping the records. */
  | { kind: "status"; status: number; retryAfter?: string }
  /** Read the request, then close the connection without answering. */
  | { kind: "drop" }
  /** Wait `ms`, then accept (or nothing, if the client has gone by then: needs the relay). */
  | { kind: "delay"; ms: number }
  /** Accept, but say that `rejected` records were rejected. */
  | { kind: "partial"; rejected: number; message?: string };

/** One request the receiver saw at /v1/logs. */
export interface SeenRequest {
  /** What became of it. */
  outcome: "accepted" | "invalid" | "status" | "drop" | "abandoned";
  /** Its headers. */
  headers: Headers;
  /** How many LogRecords it held (0 if it did not parse). */
  records: number;
}

/** A LogRecord as the tests compare it: AnyValues decoded to plain values. */
export interface ReceivedRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: unknown;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: string;
}

/** The receiver's options. */
export interface ReceiverOptions {
  /** Reject fields the OTLP protos do not define, and int64s that are not strings. Default: true. */
  strict?: boolean;
  /** Put the relay in front (needed for "drop" faults). Default: true. */
  relay?: boolean;
  /** Keep every accepted payload (false for the bench: only count). Default: true. */
  keep?: boolean;
}

/** An OTLP/HTTP JSON receiver on loopback. */
export class OtlpReceiver implements AsyncDisposable {
  /** The base URL, e.g. "http://127.0.0.1:40123": set OTEL_EXPORTER_OTLP_ENDPOINT to it. */
  readonly url: string;
  /** Every request to /v1/logs, in order of arrival. */
  readonly requests: SeenRequest[] = [];
  /** The payloads it accepted, with how many of their records it said it rejected. */
  readonly accepted: { payload: ExportRequest; rejected: number }[] = [];
  /** What was wrong with each invalid payload. */
  readonly problems: string[] = [];
  /** Requests to other paths (e.g. /v1/traces from Deno's exporter), by path. */
  readonly otherPaths = new Map<string, number>();
  /** Records in accepted payloads (counted even when `keep` is false). */
  acceptedRecords = 0;
  readonly #strict: boolean;
  readonly #keep: boolean;
  readonly #faults: Fault[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #relay: Relay | undefined;

  private constructor(options: ReceiverOptions) {
    this.#strict = options.strict ?? true;
    this.#keep = options.keep ?? true;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {}, onError: () => new Response(null) },
      (request, info) => this.#answer(request, info.remoteAddr),
    );
    const port = this.#server.addr.port;
    this.#relay = options.relay === false ? undefined : new Relay(port);
    this.url = `http://127.0.0.1:${this.#relay?.port ?? port}`;
  }

  /** Starts a receiver. */
  static start(options: ReceiverOptions = {}): OtlpReceiver {
    return new OtlpReceiver(options);
  }

  /** The full logs URL. */
  get logsUrl(): string {
    return `${this.url}/v1/logs`;
  }

  /** Queues faults for the next requests, one each. */
  inject(...faults: Fault[]): void {
    this.#faults.push(...faults);
  }

  /** Faults queued but not yet used. */
  get pendingFaults(): number {
    return this.#faults.length;
  }

  /** Every accepted LogRecord, flattened, AnyValues decoded. */
  records(): ReceivedRecord[] {
    const records: ReceivedRecord[] = [];
    for (const { payload } of this.accepted) {
      for (const resourceLogs of payload.resourceLogs ?? []) {
        const resource = keyValues(resourceLogs.resource?.attributes);
        for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
          for (const record of scopeLogs.logRecords ?? []) {
            records.push({
              timeUnixNano: String(record.timeUnixNano ?? "0"),
              observedTimeUnixNano: String(record.observedTimeUnixNano ?? "0"),
              severityNumber: record.severityNumber ?? 0,
              severityText: record.severityText ?? "",
              body: decodeAnyValue(record.body),
              attributes: keyValues(record.attributes),
              resource,
              scope: scopeLogs.scope?.name ?? "",
            });
          }
        }
      }
    }
    return records;
  }

  /** Records the receiver said it rejected, in total. */
  get rejectedRecords(): number {
    return this.accepted.reduce((sum, { rejected }) => sum + rejected, 0);
  }

  /** Stops the relay and the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#relay?.close();
    await this.#server.shutdown();
  }

  async #answer(request: Request, client: Deno.NetAddr): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path !== "/v1/logs") {
      await request.body?.cancel();
      this.otherPaths.set(path, (this.otherPaths.get(path) ?? 0) + 1);
      return json(200, {});
    }
    if (request.method !== "POST") return json(405, { code: 12, message: "POST only" });
    if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
      await request.body?.cancel();
      return json(415, { code: 3, message: "this receiver takes application/json only" });
    }
    const fault = this.#faults.shift();
    const seen: SeenRequest = { outcome: "accepted", headers: request.headers, records: 0 };
    this.requests.push(seen);
    let payload: ExportRequest;
    try {
      payload = JSON.parse(await request.text());
    } catch (error) {
      seen.outcome = "invalid";
      this.problems.push(`not JSON: ${error}`);
      return json(400, { code: 3, message: `not JSON: ${error}` });
    }
    const problems = validateExportLogsRequest(payload, { strict: this.#strict });
    seen.records = countRecords(payload);
    if (problems.length > 0) {
      seen.outcome = "invalid";
      this.problems.push(...problems);
      return json(400, { code: 3, message: problems.slice(0, 5).join("; ") });
    }
    let rejected = 0;
    switch (fault?.kind) {
      case "status":
        seen.outcome = "status";
        return json(fault.status, { code: 14, message: `injected ${fault.status}` }, {
          ...(fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter }),
        });
      case "drop":
        seen.outcome = "drop";
        this.#relay!.cut(client.port);
        return new Response(null); // never written: the connection is gone
      case "delay":
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        if (this.#relay !== undefined && !this.#relay.has(client.port)) {
          seen.outcome = "abandoned";
          return new Response(null);
        }
        break;
      case "partial":
        rejected = Math.min(fault.rejected, seen.records);
        break;
    }
    this.acceptedRecords += seen.records;
    if (this.#keep) this.accepted.push({ payload, rejected });
    if (fault?.kind !== "partial") return json(200, {});
    return json(200, {
      partialSuccess: {
        rejectedLogRecords: String(rejected),
        errorMessage: fault.message ?? `rejected ${rejected} records`,
      },
    });
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function countRecords(payload: ExportRequest): number {
  let count = 0;
  for (const resourceLogs of payload?.resourceLogs ?? []) {
    for (const scopeLogs of resourceLogs?.scopeLogs ?? []) {
      count += Array.isArray(scopeLogs?.logRecords) ? scopeLogs.logRecords.length : 0;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------
// The relay: accepts on its own port and pipes each connection to Deno.serve.
// The server sees the relay's upstream socket as the client, so the port in
// its remoteAddr names the pair of sockets to cut.

class Relay {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #pairs = new Map<number, { client: Deno.Conn; upstream: Deno.Conn }>();
  readonly #running = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  constructor(readonly target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** Closes both sockets of the connection whose upstream local port is `port`. */
  cut(port: number) {
    const pair = this.#pairs.get(port);
    if (pair === undefined) throw new Error(`relay: no connection from port ${port}`);
    this.#pairs.delete(port);
    closeQuietly(pair.client);
    closeQuietly(pair.upstream);
  }

  /** Whether the connection whose upstream local port is `port` is still open. */
  has(port: number): boolean {
    return this.#pairs.has(port);
  }

  async close() {
    closeQuietly(this.#listener);
    await this.#accepting;
    for (const port of [...this.#pairs.keys()]) this.cut(port);
    await Promise.all(this.#running);
  }

  async #accept() {
    try {
      for await (const client of this.#listener) {
        const running = this.#pipe(client).finally(() => this.#running.delete(running));
        this.#running.add(running);
      }
    } catch {
      // The listener was closed.
    }
  }

  async #pipe(client: Deno.Conn) {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
    } catch {
      closeQuietly(client);
      return;
    }
    const port = (upstream.localAddr as Deno.NetAddr).port;
    this.#pairs.set(port, { client, upstream });
    // Either side ending ends both: HTTP clients do not half-close.
    const copies = [copy(client, upstream), copy(upstream, client)];
    await Promise.race(copies);
    if (this.#pairs.delete(port)) {
      closeQuietly(client);
      closeQuietly(upstream);
    }
    await Promise.all(copies);
  }
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(256 * 1024);
  try {
    for (;;) {
      const read = await from.read(buffer);
      if (read === null) return;
      let written = 0;
      while (written < read) written += await to.write(buffer.subarray(written, read));
    }
  } catch {
    // Closed by the other side or by cut().
  }
}

function closeQuietly(closer: { close(): void }) {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

// ---------------------------------------------------------------------------
// The validator: ExportLogsServiceRequest in OTLP's protobuf JSON mapping.
// Field names lowerCamelCase; (u)int64/fixed64 as decimal strings (numbers
// also accepted when not strict, as the spec tells receivers to); enums as
// integers; trace and span ids as hex; every field optional, as in proto3.

// deno-lint-ignore no-explicit-any
type ExportRequest = any;

// Where a value sits in the payload, as a chain of keys: the "$.a.b[3]"
// text is only put together for a problem, so a valid payload (the bench
// sends hundreds of thousands of records) costs no string building.
type Path = { up: Path | undefined; key: string | number } | undefined;

function pathText(path: Path): string {
  let text = "";
  for (let at = path; at !== undefined; at = at.up) {
    text = (typeof at.key === "number" ? `[${at.key}]` : `.${at.key}`) + text;
  }
  return `$${text}`;
}

type Check = (value: unknown, path: Path, problems: string[], strict: boolean) => void;

/** Every problem with `payload` as an OTLP/JSON ExportLogsServiceRequest; [] when valid. */
export function validateExportLogsRequest(
  payload: unknown,
  options: { strict: boolean },
): string[] {
  const problems: string[] = [];
  request(payload, undefined, problems, options.strict);
  return problems;
}

function message(fields: Record<string, Check>): Check {
  const known = new Map(Object.entries(fields));
  return (value, path, problems, strict) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${pathText(path)}: expected an object, found ${show(value)}`);
      return;
    }
    for (const key in value) {
      const check = known.get(key);
      if (check === undefined) {
        if (strict) problems.push(`${pathText({ up: path, key })}: not a field of this message`);
        continue;
      }
      const item = (value as Record<string, unknown>)[key];
      if (item === null) continue; // proto3 JSON: null means the default
      check(item, { up: path, key }, problems, strict);
    }
  };
}

function repeated(check: Check): Check {
  return (value, path, problems, strict) => {
    if (!Array.isArray(value)) {
      problems.push(`${pathText(path)}: expected an array, found ${show(value)}`);
      return;
    }
    for (let i = 0; i < value.length; i++) check(value[i], { up: path, key: i }, problems, strict);
  };
}

function required(fields: Record<string, Check>, names: string[]): Check {
  const check = message(fields);
  return (value, path, problems, strict) => {
    check(value, path, problems, strict);
    if (typeof value !== "object" || value === null) return;
    for (const name of names) {
      if (!(name in value)) problems.push(`${pathText({ up: path, key: name })}: missing`);
    }
  };
}

const string: Check = (value, path, problems) => {
  if (typeof value !== "string") {
    problems.push(`${pathText(path)}: expected a string, found ${show(value)}`);
  }
};

const bool: Check = (value, path, problems) => {
  if (typeof value !== "boolean") {
    problems.push(`${pathText(path)}: expected true/false, found ${show(value)}`);
  }
};

// Up to 15 digits is inside every range below that allows 0 and a 64-bit
// maximum, so the common case needs no BigInt.
const SHORT_UNSIGNED = /^\d{1,15}$/;

function integer(min: bigint, max: bigint, sixtyFourBit: boolean): Check {
  const minNumber = Number(min);
  const maxNumber = Number(max);
  const shortStringsFit = sixtyFourBit && min <= 0n && max >= 10n ** 15n;
  return (value, path, problems, strict) => {
    if (typeof value === "number" && Number.isSafeInteger(value) && (!strict || !sixtyFourBit)) {
      if (value >= minNumber && value <= maxNumber) return;
    } else if (shortStringsFit && typeof value === "string" && SHORT_UNSIGNED.test(value)) {
      return;
    }
    let n: bigint | undefined;
    if (typeof value === "string" && /^-?\d+$/.test(value) && sixtyFourBit) n = BigInt(value);
    else if (typeof value === "number" && Number.isInteger(value) && (!strict || !sixtyFourBit)) {
      n = BigInt(value);
    }
    if (n === undefined) {
      const form = sixtyFourBit
        ? strict ? "a decimal string" : "a decimal string or integer"
        : "an integer";
      problems.push(`${pathText(path)}: expected ${form}, found ${show(value)}`);
    } else if (n < min || n > max) {
      problems.push(`${pathText(path)}: ${n} is outside ${min}..${max}`);
    }
  };
}

const uint32 = integer(0n, 2n ** 32n - 1n, false);
const fixed32 = uint32;
const int64 = integer(-(2n ** 63n), 2n ** 63n - 1n, true);
const fixed64 = integer(0n, 2n ** 64n - 1n, true);
const severityNumber = integer(0n, 24n, false);

const double: Check = (value, path, problems, strict) => {
  if (typeof value === "number") return;
  if (value === "NaN" || value === "Infinity" || value === "-Infinity") return;
  if (!strict && typeof value === "string" && value !== "" && !Number.isNaN(Number(value))) return;
  problems.push(`${pathText(path)}: expected a number, found ${show(value)}`);
};

function hexId(bytes: number): Check {
  const pattern = new RegExp(`^(?:[0-9a-fA-F]{${bytes * 2}})?$`);
  return (value, path, problems) => {
    if (typeof value !== "string" || !pattern.test(value)) {
      problems.push(
        `${pathText(path)}: expected "" or ${bytes * 2} hex digits, found ${show(value)}`,
      );
    }
  };
}

const base64: Check = (value, path, problems) => {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
    problems.push(`${pathText(path)}: expected base64, found ${show(value)}`);
  }
};

const VALUE_FIELDS = [
  "stringValue",
  "boolValue",
  "intValue",
  "doubleValue",
  "arrayValue",
  "kvlistValue",
  "bytesValue",
];

// Built once, on first use (anyValue and keyValue refer to each other).
let anyValueFields: Check | undefined;

const anyValue: Check = (value, path, problems, strict) => {
  anyValueFields ??= message({
    stringValue: string,
    boolValue: bool,
    intValue: int64,
    doubleValue: double,
    arrayValue: message({ values: repeated(anyValue) }),
    kvlistValue: message({ values: repeated(keyValue) }),
    bytesValue: base64,
  });
  anyValueFields(value, path, problems, strict);
  if (typeof value === "object" && value !== null) {
    let set = 0;
    for (const field of VALUE_FIELDS) if (field in value) set++;
    if (set > 1) {
      const names = VALUE_FIELDS.filter((field) => field in value);
      problems.push(`${pathText(path)}: a oneof with ${names.join(" and ")} set`);
    }
  }
};

let keyValueFields: Check | undefined;

const keyValue: Check = (value, path, problems, strict) => {
  keyValueFields ??= required({ key: string, value: anyValue }, ["key"]);
  keyValueFields(value, path, problems, strict);
};

const attributes = repeated(keyValue);

const entityRef = message({
  schemaUrl: string,
  type: string,
  idKeys: repeated(string),
  descriptionKeys: repeated(string),
});

const resource = message({
  attributes,
  droppedAttributesCount: uint32,
  entityRefs: repeated(entityRef),
});

const scope = message({
  name: string,
  version: string,
  attributes,
  droppedAttributesCount: uint32,
});

const logRecord = message({
  timeUnixNano: fixed64,
  observedTimeUnixNano: fixed64,
  severityNumber,
  severityText: string,
  body: anyValue,
  attributes,
  droppedAttributesCount: uint32,
  flags: fixed32,
  traceId: hexId(16),
  spanId: hexId(8),
  eventName: string,
});

const scopeLogs = message({ scope, logRecords: repeated(logRecord), schemaUrl: string });

const resourceLogs = message({ resource, scopeLogs: repeated(scopeLogs), schemaUrl: string });

const request = message({ resourceLogs: repeated(resourceLogs) });

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

// ---------------------------------------------------------------------------
// Decoding, for the tests' comparisons.

/** An AnyValue as a plain value: ints as numbers when safe, else BigInts. */
export function decodeAnyValue(value: ExportRequest): unknown {
  if (value === undefined || value === null) return null;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) {
    const n = BigInt(value.intValue);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(n)
      : n;
  }
  if ("doubleValue" in value) return Number(value.doubleValue);
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(decodeAnyValue);
  if ("kvlistValue" in value) return keyValues(value.kvlistValue.values);
  if ("bytesValue" in value) return value.bytesValue;
  return null;
}

function keyValues(list: ExportRequest): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) object[key] = decodeAnyValue(value);
  return object;
}
