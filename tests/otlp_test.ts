// OtlpHandler against a real OTLP/HTTP receiver on loopback (tests/_otlp_receiver.ts),
// through a real QueueListener and spawn()ed workers, under injected faults.
import { assert, assertEquals, assertInstanceOf, assertMatch, assertThrows } from "@std/assert";
import { FileHandler, LogLevels } from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  type HandlerError,
  InvalidOptionError,
  QueueListener,
  spawn,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import { OtlpExportError, OtlpHandler, type OtlpHandlerOptions } from "@workerlog/workerlog";
import { ENV_READER, type EnvReader, logsUrlFromBase, UNREADABLE } from "../sinks/_otlp_env.ts";
import { unixNanos } from "../sinks/_otlp_payload.ts";
import { backoffMs, retryAfterMs } from "../sinks/_otlp_retry.ts";
import { OtlpReceiver, type ReceivedRecord, validateExportLogsRequest } from "./_otlp_receiver.ts";
import { fixture } from "./_helpers.ts";
import { argOf } from "./fixtures/otlp_worker.ts";
import {
  assertProgressBeforeEnd,
  flood,
  FLOOD_MAX_IN_FLIGHT,
  FLOOD_WORKERS,
  floodProgress,
  progressAtFlag,
} from "./_flood.ts";
import type { WatchSummary } from "./fixtures/sink_watch_worker.ts";

const SEVERITY: Record<string, number> = { DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, CRITICAL: 21 };
const LEVEL_NAMES = ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"];

/** Waits (bounded) until `done()`; fails saying what it waited for. */
async function waitFor(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A handler to `receiver`, collecting what it reports; disposed with the returned object. */
function handlerFor(receiver: OtlpReceiver, options: OtlpHandlerOptions = {}) {
  const reports: OtlpExportError[] = [];
  const handler = new OtlpHandler("DEBUG", {
    endpoint: receiver.logsUrl,
    retryInitialDelayMs: 5,
    onError: (error) => reports.push(error as OtlpExportError),
    ...options,
  });
  return { handler, reports };
}

function workerRecord(
  i: number,
  overrides: Partial<ConstructorParameters<typeof WorkerLogRecord>[0]> = {},
) {
  return new WorkerLogRecord({
    msg: `record ${i}`,
    args: [],
    level: LogLevels.INFO,
    loggerName: "app",
    datetime: 1_795_598_965_406 + i,
    worker: "worker-1",
    workerIndex: 1,
    seq: i,
    ...overrides,
  });
}

function assertBalanced(handler: OtlpHandler) {
  const stats = handler.stats();
  assertEquals(stats.received, stats.sent + stats.dropped + stats.pending, JSON.stringify(stats));
}

Deno.test("unixNanos is exact; Retry-After and backoff are read as the spec says", () => {
  assertEquals(unixNanos(1_795_598_965_406), "1795598965406000000");
  assertEquals(BigInt(unixNanos(8_640_000_000_000_000)), 8_640_000_000_000_000n * 1_000_000n);
  assertEquals(unixNanos(0), "0");
  assertEquals(unixNanos(-5), "0");
  assertEquals(unixNanos(NaN), "0");
  assertEquals(unixNanos(1.5), "1500000");
  assertEquals(unixNanos(1_700_000_000_000.25), "1700000000000250000");
  assertEquals(unixNanos(0.000001), "1");

  const now = Date.parse("2026-10-21T07:28:00Z");
  assertEquals(retryAfterMs("3", now), 3_000);
  assertEquals(retryAfterMs(" 0 ", now), 0);
  assertEquals(retryAfterMs("Wed, 21 Oct 2026 07:28:05 GMT", now), 5_000);
  assertEquals(retryAfterMs("Wed, 21 Oct 2026 07:27:00 GMT", now), 0); // already past
  assertEquals(retryAfterMs(null, now), undefined);
  assertEquals(retryAfterMs("-1", now), undefined);
  assertEquals(retryAfterMs("soon", now), undefined);
  assertEquals(retryAfterMs("1.5", now), undefined);

  assertEquals(backoffMs(1, 500, 30_000, () => 1), 500);
  assertEquals(backoffMs(3, 500, 30_000, () => 1), 2_000);
  assertEquals(backoffMs(3, 500, 30_000, () => 0), 1_000); // jitter: half at least
  assertEquals(backoffMs(20, 500, 30_000, () => 1), 30_000); // capped

  assertEquals(logsUrlFromBase("http://c:4318"), "http://c:4318/v1/logs");
  assertEquals(logsUrlFromBase("http://c:4318/"), "http://c:4318/v1/logs");
  assertEquals(logsUrlFromBase("https://c/otel/"), "https://c/otel/v1/logs");
});

Deno.test("the validator rejects what OTLP/JSON does not allow", () => {
  const valid = {
    resourceLogs: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "x" } }] },
      scopeLogs: [{
        scope: { name: "s" },
        logRecords: [{
          timeUnixNano: "1",
          severityNumber: 9,
          body: { kvlistValue: { values: [{ key: "k", value: { intValue: "-3" } }] } },
          traceId: "",
        }],
      }],
    }],
  };
  assertEquals(validateExportLogsRequest(valid, { strict: true }), []);
  const broken: [string, (record: Record<string, unknown>) => void][] = [
    ["timeUnixNano as a number (strict)", (r) => r.timeUnixNano = 1],
    ["timeUnixNano not decimal", (r) => r.timeUnixNano = "1e18"],
    ["timeUnixNano above 2^64", (r) => r.timeUnixNano = "18446744073709551616"],
    ["severityNumber as text", (r) => r.severityNumber = "SEVERITY_NUMBER_INFO"],
    ["severityNumber out of range", (r) => r.severityNumber = 25],
    ["body not an AnyValue", (r) => r.body = "text"],
    ["two oneof fields", (r) => r.body = { stringValue: "a", intValue: "1" }],
    ["intValue not an integer", (r) => r.body = { intValue: "1.5" }],
    ["attributes not KeyValues", (r) => r.attributes = [{ value: { stringValue: "no key" } }]],
    ["traceId not hex", (r) => r.traceId = "xyz"],
    ["unknown field (strict)", (r) => r.time_unix_nano = "1"],
  ];
  for (const [what, mutate] of broken) {
    const payload = structuredClone(valid);
    mutate(payload.resourceLogs[0].scopeLogs[0].logRecords[0] as Record<string, unknown>);
    assert(validateExportLogsRequest(payload, { strict: true }).length > 0, `accepted: ${what}`);
  }
  assert(validateExportLogsRequest({ resourceLogs: {} }, { strict: false }).length > 0);
  assert(validateExportLogsRequest([], { strict: false }).length > 0);
});

Deno.test("the receiver accepts Deno's own OTLP/JSON export (OTEL_DENO=true, http/json)", async () => {
  await using receiver = OtlpReceiver.start({ strict: false });
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "deno-export-check",
    },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(
    `for (let i = 0; i < 50; i++) console.log("line " + i, { i });\nconsole.error("to stderr");\n`,
  ));
  await writer.close();
  const { code, stderr } = await child.output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  assertEquals(receiver.problems, []);
  const records = receiver.records();
  const lines = records.filter((record) => String(record.body).startsWith("line "));
  assertEquals(lines.length, 50, "every console.log line arrives once");
  assertEquals(
    lines.map((record) => record.body),
    Array.from({ length: 50 }, (_, i) => `line ${i} { i: ${i} }\n`),
  );
  for (const record of records) {
    assertEquals(record.resource["service.name"], "deno-export-check");
    assertMatch(record.timeUnixNano, /^[1-9]\d{18}$/);
  }
  const error = records.find((record) => record.body === "to stderr\n");
  assertEquals(error?.severityNumber, 17);
  // And the strict check (used on OtlpHandler's payloads) rejects only Deno's extra fields?
  // No: entityRefs, flags, eventName are all proto fields, so strict passes too.
  for (const { payload } of receiver.accepted) {
    assertEquals(validateExportLogsRequest(payload, { strict: true }), []);
  }
});

Deno.test("records become OTLP LogRecords: exact time, severity, body, attributes, args", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver);
  await using _ = handler;
  const args = [
    {
      user: 42,
      name: "ada",
      ratio: 0.25,
      ok: true,
      none: null,
      list: [1, "two", [3]],
      big: 2 ** 60,
    },
    "text",
    -7,
    "NaN",
  ];
  const before = Date.now();
  for (const [i, levelName] of LEVEL_NAMES.entries()) {
    handler.handle(
      workerRecord(i, { level: LogLevels[levelName as "INFO"], args: i === 0 ? args : [] }),
    );
  }
  handler.handle(
    new LogRecord({
      msg: "from main",
      args: [1n, new Map([["k", 1]])],
      level: 20,
      loggerName: "default",
    }),
  );
  handler.handle(workerRecord(99, { level: LogLevels.NOTSET, msg: "below the level" }));
  handler.log("a bare line");
  handler.logLine(LogLevels.ERROR, "a preformatted line");
  await handler.drained();
  const after = Date.now();
  assertEquals(receiver.problems, []);
  const records = receiver.records();
  assertEquals(records.length, 8);
  for (const [i, levelName] of LEVEL_NAMES.entries()) {
    const record = records[i];
    assertEquals(record.timeUnixNano, `${1_795_598_965_406 + i}000000`);
    const observed = Number(BigInt(record.observedTimeUnixNano) / 1_000_000n);
    assert(
      observed >= before && observed <= after,
      "observedTimeUnixNano is when the handler took it",
    );
    assertEquals(record.severityNumber, SEVERITY[levelName]);
    assertEquals(record.severityText, levelName);
    assertEquals(record.body, `record ${i}`);
    assertEquals(record.scope, "workerlog");
    assertEquals(record.resource, { "service.name": "unknown_service:deno" });
    const { args: sentArgs, ...attributes } = record.attributes;
    assertEquals(attributes, { logger: "app", worker: "worker-1", "worker.index": 1, seq: i });
    assertEquals(sentArgs, i === 0 ? args : undefined);
  }
  const [main, bare, preformatted] = records.slice(5);
  assertEquals(main.attributes, { logger: "default", worker: "main", args: ["1n", { k: 1 }] });
  assertEquals(bare.body, "a bare line");
  assertEquals(bare.severityNumber, 0);
  assertEquals(
    [preformatted.body, preformatted.severityNumber, preformatted.severityText],
    ["a preformatted line", 17, "ERROR"],
  );
  // big (2^60) is past 2^53: a double, not an intValue string that lies.
  const raw = JSON.stringify(receiver.accepted[0].payload);
  assert(raw.includes(`"doubleValue":${2 ** 60}`), raw.slice(0, 400));
  assert(raw.includes(`"intValue":"42"`));
  assertEquals(handler.stats(), {
    received: 8,
    sent: 8,
    exported: 8,
    rejected: 0,
    dropped: 0,
    retried: 0,
    failedRequests: 0,
    inFlight: 0,
    pending: 0,
  });
  assertEquals(reports, []);
});

Deno.test("lone surrogates in the message, args, keys and logger name arrive as U+FFFD", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver);
  await using _ = handler;
  handler.handle(workerRecord(0, {
    msg: "msg \ud800",
    loggerName: "app \udfff",
    args: ["arg \ud83d", { "key \udc00": "x" }, "a pair \ud83d\ude00"],
  }));
  handler.log("bare \ud800");
  await handler.drained();
  assertEquals(receiver.problems, []);
  const [record, bare] = receiver.records();
  assertEquals(record.body, "msg \ufffd");
  assertEquals(record.attributes.logger, "app \ufffd");
  assertEquals(record.attributes.args, [
    "arg \ufffd",
    { "key \ufffd": "x" },
    "a pair \ud83d\ude00",
  ]);
  assertEquals(bare.body, "bare \ufffd");
  assertEquals(reports, []);
});

Deno.test("through a QueueListener and spawn(): every record arrives under 503, 429, drops, slow answers and partial success", async () => {
  await using receiver = OtlpReceiver.start();
  const workers = 3;
  const perWorker = 2_000;
  const retryable = [
    { kind: "status", status: 503, retryAfter: "1" },
    { kind: "status", status: 429, retryAfter: new Date(Date.now() + 1_000).toUTCString() },
    { kind: "status", status: 502 },
    { kind: "drop" },
    { kind: "status", status: 504, retryAfter: "0" },
    { kind: "drop" },
  ] as const;
  receiver.inject(
    retryable[0],
    { kind: "delay", ms: 150 },
    retryable[1],
    { kind: "partial", rejected: 5, message: "5 records too old" },
    retryable[2],
    retryable[3],
    { kind: "delay", ms: 100 },
    retryable[4],
    { kind: "partial", rejected: 3 },
    retryable[5],
  );
  const listenerErrors: HandlerError[] = [];
  // A new connection per request: with keep-alive, fetch itself re-sends a
  // request once when a reused connection closes unanswered, out of sight
  // of the handler's counters (see the httpClient option).
  using httpClient = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const handler = new OtlpHandler("DEBUG", {
    httpClient,
    endpoint: receiver.logsUrl,
    batchSize: 512,
    maxInFlight: 2,
    retryInitialDelayMs: 20,
    flushIntervalMs: 20,
    serviceName: "spawn-test",
  });
  const listener = new QueueListener([handler], { onError: (error) => listenerErrors.push(error) })
    .start();
  try {
    const results = await spawn<number>(fixture("otlp_worker.ts"), {
      count: workers,
      args: { records: perWorker },
      listener,
      level: "DEBUG",
    });
    assertEquals(results, Array(workers).fill(perWorker));
  } finally {
    await listener.stop(); // awaits handler[Symbol.asyncDispose]()
  }
  assertEquals(receiver.pendingFaults, 0, "every injected fault was used");
  assertEquals(receiver.problems, []);
  const seen = new Map<string, ReceivedRecord>();
  for (const record of receiver.records()) {
    const { worker, seq } = record.attributes as { worker: string; seq: number };
    seen.set(`${worker}:${seq}`, record);
  }
  for (let index = 0; index < workers; index++) {
    for (let seq = 0; seq < perWorker; seq++) {
      const record = seen.get(`worker-${index}:${seq}`);
      assert(record !== undefined, `worker-${index} seq ${seq} never arrived`);
      const level = LEVEL_NAMES[seq % 5];
      assertEquals(record.severityText, level);
      assertEquals(record.severityNumber, SEVERITY[level]);
      assertEquals(record.body, `record ${seq}`);
      assertEquals(record.attributes, {
        logger: "default",
        worker: `worker-${index}`,
        "worker.index": index,
        seq,
        args: [argOf(index, seq)],
      });
      assertEquals(record.resource["service.name"], "spawn-test");
      assert(
        BigInt(record.timeUnixNano) <= BigInt(record.observedTimeUnixNano),
        "logged before it was observed",
      );
      assertEquals(BigInt(record.timeUnixNano) % 1_000_000n, 0n, "ms precision, exact");
    }
  }
  const total = workers * perWorker;
  const stats = handler.stats();
  assertEquals(stats, {
    received: total,
    sent: receiver.acceptedRecords,
    exported: receiver.acceptedRecords - 8,
    rejected: 8,
    dropped: 0,
    retried: retryable.length,
    failedRequests: retryable.length,
    inFlight: 0,
    pending: 0,
  });
  // A dropped connection may have delivered nothing or everything: at least once.
  assert(receiver.acceptedRecords >= total);
  assertEquals(receiver.acceptedRecords, total, "a retried batch is only accepted once here");
  // One report per episode, through the listener's onError.
  const causes = listenerErrors.map((error) => error.cause);
  for (const cause of causes) assertInstanceOf(cause, OtlpExportError);
  const faults = (causes as OtlpExportError[]).map((cause) => cause.fault);
  assert(faults.includes("unavailable"), faults.join());
  assert(faults.includes("rejected"), faults.join());
  assert(faults.every((fault) => fault === "unavailable" || fault === "rejected"), faults.join());
  assert(faults.length <= 10, `reported ${faults.length} times for 10 faults`);
});

Deno.test("a non-retryable answer drops the batch, counts it and says what to do, once per episode", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver, { batchSize: 2, maxInFlight: 1 });
  await using _ = handler;
  receiver.inject(
    { kind: "status", status: 401 },
    { kind: "status", status: 401 },
    { kind: "status", status: 400 },
  );
  for (let i = 0; i < 8; i++) handler.handle(workerRecord(i));
  await handler.drained();
  assertEquals(handler.stats().dropped, 6);
  assertEquals(handler.stats().sent, 2);
  assertEquals(handler.stats().retried, 0);
  assertEquals(handler.stats().failedRequests, 3);
  assertEquals(reports.length, 1, "the three refusals are one episode");
  assertEquals(reports[0].fault, "failed");
  assertEquals(reports[0].status, 401);
  assertMatch(reports[0].message, /answered 401.*credentials.*OTEL_EXPORTER_OTLP_HEADERS/);
  // The success ended the episode: the next refusal is reported again.
  receiver.inject({ kind: "status", status: 404 });
  for (let i = 8; i < 10; i++) handler.handle(workerRecord(i));
  await handler.drained();
  assertEquals(reports.length, 2);
  assertMatch(reports[1].message, /404.*endpoint.*\/v1\/logs/);
  assertEquals(receiver.records().map((record) => record.attributes.seq), [6, 7]);
  assertBalanced(handler);
});

Deno.test("retries are bounded: used up, or a Retry-After beyond retryMaxDelayMs, drops the batch", async () => {
  await using receiver = OtlpReceiver.start();
  using httpClient = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const { handler, reports } = handlerFor(receiver, {
    httpClient,
    batchSize: 1,
    maxInFlight: 1,
    maxRetries: 2,
    retryMaxDelayMs: 1_000,
  });
  await using _ = handler;
  receiver.inject(
    { kind: "status", status: 503 },
    { kind: "drop" },
    { kind: "status", status: 503 }, // third try of record 0: given up
    { kind: "status", status: 429, retryAfter: "60" }, // record 1: too long to wait
  );
  handler.handle(workerRecord(0));
  handler.handle(workerRecord(1));
  handler.handle(workerRecord(2));
  await handler.drained();
  assertEquals(receiver.records().map((record) => record.attributes.seq), [2]);
  const stats = handler.stats();
  assertEquals([stats.dropped, stats.sent, stats.retried, stats.failedRequests], [2, 1, 2, 4]);
  assertEquals(reports.map((report) => report.fault), ["unavailable", "failed"]);
  assertMatch(reports[1].message, /3 times in a row.*maxRetries/);
  assertBalanced(handler);
});

Deno.test("a Retry-After too long is reported as such", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver, { retryMaxDelayMs: 1_000 });
  await using _ = handler;
  receiver.inject({ kind: "status", status: 503, retryAfter: "60" });
  handler.handle(workerRecord(0));
  await handler.drained();
  assertEquals(handler.stats().dropped, 1);
  assertEquals(reports.map((report) => report.fault), ["failed"]);
  assertMatch(reports[0].message, /retry after 60000 ms.*retryMaxDelayMs/);
});

Deno.test("an answer slower than timeoutMs counts as failed and is retried", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver, { timeoutMs: 100 });
  await using _ = handler;
  receiver.inject({ kind: "delay", ms: 600 }, { kind: "delay", ms: 20 });
  for (let i = 0; i < 5; i++) handler.handle(workerRecord(i));
  await handler.drained();
  await waitFor(
    "the abandoned request to finish",
    () => receiver.requests.length === 2 && receiver.requests[0].outcome === "abandoned",
  );
  assertEquals(receiver.records().length, 5);
  assertEquals(handler.stats().retried, 1);
  assertEquals(handler.stats().sent, 5);
  assertEquals(reports.map((report) => report.fault), ["unavailable"]);
  assertMatch(reports[0].message, /did not answer within 100 ms/);
});

Deno.test("a full queue drops new records, counts them and reports once", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler, reports } = handlerFor(receiver, {
    batchSize: 10,
    maxQueueSize: 20,
    maxInFlight: 1,
  });
  await using _ = handler;
  receiver.inject({ kind: "delay", ms: 50 });
  // Synchronously: 10 go out as a batch, 20 fill the queue, 70 are dropped.
  for (let i = 0; i < 100; i++) handler.handle(workerRecord(i));
  assertEquals(handler.stats().dropped, 70);
  assertEquals(handler.stats().pending, 30);
  await handler.drained();
  assertEquals(
    receiver.records().map((record) => record.attributes.seq),
    Array.from({ length: 30 }, (_, i) => i),
  );
  assertEquals(reports.length, 1);
  assertEquals(reports[0].fault, "queue-full");
  assertMatch(reports[0].message, /maxQueueSize 20/);
  assertBalanced(handler);
});

Deno.test("flush() never sends at once; flushIntervalMs sends a partial batch", async () => {
  await using receiver = OtlpReceiver.start();
  const { handler } = handlerFor(receiver, { flushIntervalMs: 30 });
  await using _ = handler;
  for (let i = 0; i < 3; i++) handler.handle(workerRecord(i));
  handler.flush();
  assertEquals(handler.stats().inFlight, 0);
  await waitFor("the partial batch after flushIntervalMs", () => receiver.records().length === 3);
  assertEquals(receiver.requests.length, 1);
});

Deno.test("destroy() stops at once and counts what was not sent; dispose waits at most closeTimeoutMs", async () => {
  await using receiver = OtlpReceiver.start();
  {
    const { handler, reports } = handlerFor(receiver, { batchSize: 4 });
    for (let i = 0; i < 10; i++) handler.handle(workerRecord(i));
    handler.destroy(); // two batches in flight, a partial one queued
    assertEquals(handler.stats().dropped, 10);
    assertEquals(handler.stats().pending, 0);
    assertEquals(reports.map((report) => report.fault), ["undelivered"]);
    handler.handle(workerRecord(10));
    assertEquals(handler.stats().dropped, 11);
    assertEquals(reports.length, 1, "one episode");
    handler.destroy(); // idempotent
  }
  {
    // A receiver that takes longer than closeTimeoutMs: dispose gives up.
    const { handler, reports } = handlerFor(receiver, { closeTimeoutMs: 50 });
    receiver.inject({ kind: "delay", ms: 500 });
    handler.handle(workerRecord(0));
    // The request is on its way (sent by its I/O worker) before dispose starts.
    const requests = receiver.requests.length;
    handler.drained();
    await waitFor("the request to reach the receiver", () => receiver.requests.length > requests);
    await handler[Symbol.asyncDispose]();
    assertEquals(handler.stats().dropped, 1);
    assertEquals(reports.map((report) => report.fault), ["undelivered"]);
    await waitFor(
      "the slow request to end",
      () => receiver.requests[receiver.requests.length - 1].outcome === "abandoned",
    );
  }
  {
    const { handler, reports } = handlerFor(receiver);
    for (let i = 0; i < 5; i++) handler.handle(workerRecord(i));
    const disposing = handler[Symbol.asyncDispose]();
    assert(disposing === handler[Symbol.asyncDispose](), "the same promise each call");
    await disposing;
    assertEquals(handler.stats().sent, 5);
    assertEquals(reports, []);
  }
});

Deno.test("bad options get InvalidOptionError naming the option", () => {
  const bad: [string, OtlpHandlerOptions][] = [
    ["endpoint", { endpoint: "localhost:4318" }],
    ["endpoint", { endpoint: "ftp://collector/v1/logs" }],
    ["headers.bad header", { headers: { "bad header": "x" } }],
    ["headers.x", { headers: { x: 1 as unknown as string } }],
    ["serviceName", { serviceName: "" }],
    ["resource.n", { resource: { n: {} as unknown as string } }],
    ["batchSize", { batchSize: 0 }],
    ["batchSize", { batchSize: 1.5 }],
    ["maxQueueSize", { batchSize: 1_024, maxQueueSize: 100 }],
    ["maxInFlight", { maxInFlight: 0 }],
    ["flushIntervalMs", { flushIntervalMs: -1 }],
    ["timeoutMs", { timeoutMs: Infinity }],
    ["maxRetries", { maxRetries: -1 }],
    ["closeTimeoutMs", { closeTimeoutMs: "5s" as unknown as number }],
    ["onError", { onError: "console" as unknown as () => void }],
    ["maxBatchBytes", { maxBatchBytes: 10 }],
    ["httpClient", { httpClient: {} as Deno.HttpClient }],
  ];
  for (const [option, options] of bad) {
    const error = assertThrows(
      () => new OtlpHandler("INFO", { endpoint: "http://127.0.0.1:1/v1/logs", ...options }),
      InvalidOptionError,
    );
    assertEquals(error.option, option, error.message);
    assertMatch(error.message, /Expected/);
  }
  assertThrows(
    () => new OtlpHandler("INFO", null as unknown as OtlpHandlerOptions),
    InvalidOptionError,
  );
});

Deno.test("endpoint, headers, timeout and resource default from the OTEL_* variables", async () => {
  await using receiver = OtlpReceiver.start();
  const env = (vars: Record<string, string>): EnvReader => (name) => vars[name];
  const make = (vars: Record<string, string>, options: OtlpHandlerOptions = {}) =>
    new OtlpHandler("INFO", { ...options, [ENV_READER]: env(vars) } as OtlpHandlerOptions);

  assertEquals(make({}).endpoint, "http://localhost:4318/v1/logs");
  assertEquals(
    make({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }).endpoint,
    "http://c:4318/v1/logs",
  );
  assertEquals(
    make({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://l:1/custom",
    }).endpoint,
    "http://l:1/custom",
    "the signal's variable is used as is, and wins",
  );
  assertEquals(
    make({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" }, { endpoint: "http://o/v1/logs" }).endpoint,
    "http://o/v1/logs",
  );
  const error = assertThrows(
    () => make({ OTEL_EXPORTER_OTLP_ENDPOINT: "c:4318" }),
    InvalidOptionError,
  );
  assertEquals(error.option, "OTEL_EXPORTER_OTLP_ENDPOINT");

  // Through a real request: headers percent-decoded, resource with service name precedence.
  const reports: Error[] = [];
  const handler = new OtlpHandler("INFO", {
    onError: (error) => reports.push(error),
    resource: { "deployment.environment.name": "test" },
    [ENV_READER]: env({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc%3D%3D , x-tenant = t1,broken",
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "x-logs=yes",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attrs,host.name=h%2C1,team=a%3Db",
      OTEL_SERVICE_NAME: "from-service-name",
    }),
  } as OtlpHandlerOptions);
  handler.handle(workerRecord(0));
  await handler[Symbol.asyncDispose]();
  const [request] = receiver.requests;
  assertEquals(request.headers.get("x-logs"), "yes", "the logs variable wins over the general one");
  assertEquals(request.headers.get("authorization"), null);
  assertEquals(receiver.records()[0].resource, {
    "service.name": "from-service-name",
    "host.name": "h,1",
    team: "a=b",
    "deployment.environment.name": "test",
  });
  assertEquals(reports, []);

  const general = make({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc%3D%3D , x-tenant = t1,broken",
  });
  general.handle(workerRecord(1));
  await general[Symbol.asyncDispose]();
  assertEquals(receiver.requests[1].headers.get("authorization"), "Bearer abc==");
  assertEquals(receiver.requests[1].headers.get("x-tenant"), "t1");

  // A malformed OTEL_RESOURCE_ATTRIBUTES is ignored as a whole, and said so.
  const ignored: Error[] = [];
  const odd = new OtlpHandler("INFO", {
    onError: (error) => ignored.push(error),
    [ENV_READER]: env({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_RESOURCE_ATTRIBUTES: "a=1,b=%E0%A4%A",
    }),
  } as OtlpHandlerOptions);
  odd.handle(workerRecord(2));
  await odd[Symbol.asyncDispose]();
  assertEquals(receiver.records()[2].resource, { "service.name": "unknown_service:deno" });
  assertEquals(ignored.length, 1);
  assertMatch(ignored[0].message, /ignored OTEL_RESOURCE_ATTRIBUTES/);

  // Variables it may not read: it works on its options and says so once.
  const unreadable = new OtlpHandler("INFO", {
    endpoint: receiver.logsUrl,
    onError: (error) => ignored.push(error),
    [ENV_READER]: () => UNREADABLE,
  } as OtlpHandlerOptions);
  unreadable.handle(workerRecord(3));
  unreadable.handle(workerRecord(4));
  await unreadable[Symbol.asyncDispose]();
  assertEquals(unreadable.stats().sent, 2);
  assertEquals(ignored.length, 2);
  assertMatch(ignored[1].message, /could not read OTEL_EXPORTER_OTLP_LOGS_HEADERS.*--allow-env/);
});

Deno.test("the real Deno.env: defaults from OTEL_EXPORTER_OTLP_ENDPOINT, and no crash without --allow-env", async () => {
  await using receiver = OtlpReceiver.start();
  const saved = Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
  Deno.env.set("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url);
  try {
    await using handler = new OtlpHandler("INFO");
    assertEquals(handler.endpoint, receiver.logsUrl);
    handler.handle(workerRecord(0));
    await handler.drained();
    assertEquals(receiver.records().length, 1);
  } finally {
    if (saved === undefined) Deno.env.delete("OTEL_EXPORTER_OTLP_ENDPOINT");
    else Deno.env.set("OTEL_EXPORTER_OTLP_ENDPOINT", saved);
  }
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      fixture("otlp_no_env_main.ts").pathname,
      receiver.logsUrl,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr);
  assertEquals(code, 0, errors);
  assertEquals(JSON.parse(new TextDecoder().decode(stdout)).sent, 3);
  assertMatch(errors, /could not read OTEL_.*no --allow-env permission/);
  assertEquals(errors.match(/could not read/g)?.length, 1, "said once");
  assertEquals(receiver.records().slice(1).map((record) => record.body), [
    "no env 0",
    "no env 1",
    "no env 2",
  ]);
});

Deno.test("under a sustained 4-worker flood the receiver gets records while the workers log, and every one", async () => {
  const threshold = 1_024;
  await using dir = await Deno.makeTempDir().then((path) => ({
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  }));
  const { shared, view } = floodProgress();
  // The receiver runs on a thread of its own: the listener's is busy with the flood.
  const watcher = new Worker(fixture("sink_watch_worker.ts"), { type: "module" });
  const answers: { url?: string; summary?: WatchSummary }[] = [];
  watcher.onmessage = ({ data }) => answers.push(data);
  try {
    // + 1: the warm-up record.
    watcher.postMessage({
      watch: "otlp",
      shared,
      workers: FLOOD_WORKERS,
      threshold: threshold + 1,
    });
    await waitFor("the receiver's URL", () => answers.length === 1);
    const reports: Error[] = [];
    const handler = new OtlpHandler("INFO", {
      endpoint: answers[0].url,
      onError: (error) => reports.push(error),
    });
    const file = new FileHandler("INFO", {
      filename: `${dir.path}/all.log`,
      formatter: (record) => record.msg,
    });
    // Warm: the first request (the I/O worker's start, the connection, the
    // receiver's first answer) takes long on a busy machine, and a cold
    // start is not what this is about. Excluded from the receiver's counts.
    handler.handle(
      new LogRecord({ msg: "warm-up", args: [], level: LogLevels.INFO, loggerName: "x" }),
    );
    await handler.drained();
    const listener = new QueueListener([file, handler], { maxInFlight: FLOOD_MAX_IN_FLIGHT })
      .start();
    let logged: number[];
    try {
      logged = await flood(listener, shared);
      await handler.drained();
    } finally {
      await listener.stop();
    }
    assertProgressBeforeEnd(view, logged, "the receiver");
    const total = logged.reduce((sum, n) => sum + n, 0);
    console.log(
      `OTLP flood: ${total} records; the receiver had its first ${threshold} when the workers ` +
        `were at ${progressAtFlag(view).join(", ")} of ${logged.join(", ")}`,
    );
    watcher.postMessage({ summary: true });
    await waitFor("the receiver's summary", () => answers.length === 2, 20_000);
    const summary = answers[1].summary!;
    for (let k = 0; k < FLOOD_WORKERS; k++) {
      assertEquals(
        summary[`worker-${k}`],
        { records: logged[k], unique: logged[k], top: logged[k] },
        `worker-${k}: every record once`,
      );
    }
    const lines = (await Deno.readTextFile(`${dir.path}/all.log`)).split("\n");
    assertEquals(lines.length - 1, total, "every record in the FileHandler's file");
    const stats = handler.stats();
    assertEquals([stats.sent, stats.dropped, stats.pending], [total + 1, 0, 0]);
    assertEquals(reports, []);
  } finally {
    watcher.terminate();
  }
});
