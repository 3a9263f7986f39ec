// SyslogHandler against a real rsyslogd (imtcp, imtcp over TLS, imrelp),
// started and stopped by each test; UDP against a real loopback socket.
import { assert, assertEquals, assertGreater, assertMatch, assertThrows } from "@std/assert";
import { LogRecord } from "@std/log/logger";
import { createSocket } from "node:dgram";
import {
  InvalidOptionError,
  QueueListener,
  spawn,
  type WorkerlogError,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import { SyslogHandler, type SyslogHandlerOptions } from "@workerlog/workerlog";
import { freePort, makeCertificates, type Received, Rsyslog } from "./_rsyslog.ts";
import { assertCompleteAndOrdered, fixture, jsonFile, readJsonLines, tempDir } from "./_helpers.ts";
import type { CountArgs } from "./fixtures/count_worker.ts";
import type { FloodArgs } from "./fixtures/sink_flood_worker.ts";

/** A handler whose faults are collected, not printed. */
function handlerFor(options: SyslogHandlerOptions, level: "DEBUG" | "INFO" = "DEBUG") {
  const errors: Error[] = [];
  const handler = new SyslogHandler(level, { ...options, onError: (error) => errors.push(error) });
  return { handler, errors };
}

function record(msg: string, fields: Partial<{
  args: unknown[];
  level: number;
  loggerName: string;
  worker: string;
  seq: number;
  time: number;
}> = {}): WorkerLogRecord {
  return new WorkerLogRecord({
    msg,
    args: fields.args ?? [],
    level: (fields.level ?? 20) as 20,
    loggerName: fields.loggerName ?? "app",
    datetime: fields.time ?? Date.UTC(2026, 10, 24, 8, 49, 55, 123),
    worker: fields.worker ?? "worker-0",
    seq: fields.seq ?? 0,
  });
}

/** The workerlog@32473 element's params, unescaped. */
function sdParams(received: Received): Record<string, string> {
  const sd = received["structured-data"];
  const match = /^\[workerlog@32473((?: [a-z]+="(?:[^"\\\]]|\\.)*")*)\]$/.exec(sd);
  assert(match, `structured data not as expected: ${sd}`);
  const params: Record<string, string> = {};
  for (const [, name, value] of match[1].matchAll(/ ([a-z]+)="((?:[^"\\\]]|\\.)*)"/g)) {
    params[name] = value.replace(/\\(.)/g, "$1");
  }
  return params;
}

/** Waits for `condition`, polling, for at most `timeoutMs`; fails saying what it waited for. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("every record arrives whole over TCP: message, args, structured data, priority, time", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const { handler, errors } = handlerFor({
    port: rsyslog.tcpPort,
    facility: "local0",
    hostname: "host-1",
    appName: "billing",
    procId: "4242",
  });
  const big = "x".repeat(20 * 1024 - 3) + "end";
  const sent = [
    record("plain", { level: 10, seq: 0 }),
    record("with args", { args: [{ job: 41 }, "two", null], level: 20, seq: 1 }),
    record("first line\nsecond line\r\nthird", { level: 30, seq: 2 }),
    record("UTF-8: ü, 日本語, 🎉, lone \ud800 surrogate", { level: 40, seq: 3 }),
    record(big, { level: 50, seq: 4 }),
    record('escapes "q" \\ ]', {
      worker: 'w"or\\ker]',
      loggerName: 'db "main"] x',
      seq: 5,
    }),
  ];
  for (const r of sent) handler.handle(r);
  handler.handle(new LogRecord({ msg: "standalone", args: [], level: 20, loggerName: "default" }));
  await handler.drained();
  const received = await rsyslog.waitForReceived(7, "7 records");
  await handler[Symbol.asyncDispose]();

  assertEquals(received.length, 7);
  const expectedSeverity = [7, 6, 4, 3, 2, 6, 6];
  const expectedMsg = [
    "plain",
    'with args {"job":41} "two" null',
    "first line\nsecond line\r\nthird",
    "UTF-8: ü, 日本語, 🎉, lone \ufffd surrogate",
    big,
    'escapes "q" \\ ]',
    "standalone",
  ];
  received.forEach((got, i) => {
    assertEquals(got.msg, expectedMsg[i], `message ${i}`);
    assertEquals(got.inputname, "imtcp");
    assertEquals(got.syslogfacility, "16");
    assertEquals(got.syslogseverity, String(expectedSeverity[i]), `severity of ${i}`);
    assertEquals(got.pri, String(16 * 8 + expectedSeverity[i]));
    assertEquals(got.hostname, "host-1");
    assertEquals(got["app-name"], "billing");
    assertEquals(got.procid, "4242");
  });
  for (let i = 0; i < 6; i++) {
    assertEquals(received[i].timereported, "2026-11-24T08:49:55.123Z");
    assertEquals(sdParams(received[i]).seq, String(i));
  }
  assertEquals(sdParams(received[0]), { worker: "worker-0", seq: "0", logger: "app" });
  assertEquals(received[0].msgid, "app");
  // Escaped in the structured data, cleaned to printable ASCII in MSGID.
  assertEquals(sdParams(received[5]), {
    worker: 'w"or\\ker]',
    seq: "5",
    logger: 'db "main"] x',
  });
  assertEquals(received[5].msgid, 'db_"main"]_x');
  // A plain LogRecord: worker "main", no seq, its own time.
  assertEquals(sdParams(received[6]), { worker: "main", logger: "default" });
  assertEquals(received[6].msgid, "default");
  assertMatch(received[6].timereported, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assertEquals(errors, []);
  const stats = handler.stats();
  assertEquals([stats.accepted, stats.sent, stats.delivered, stats.unconfirmed], [7, 7, 7, 7]);
  assertEquals([stats.acknowledged, stats.dropped, stats.buffered], [0, 0, 0]);
});

Deno.test("the UTF-8 BOM, when asked for, is the first thing in MSG (and rsyslog keeps it there)", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const { handler } = handlerFor({ port: rsyslog.tcpPort, utf8Bom: true });
  handler.handle(record("grüße"));
  await handler[Symbol.asyncDispose]();
  const [got] = await rsyslog.waitForReceived(1, "the record");
  assertEquals(got.msg, "\ufeffgrüße");
});

Deno.test("TLS: records arrive over RFC 5425 with a CA made by openssl; an untrusted one is reported once", async () => {
  await using dir = await tempDir();
  const tls = await makeCertificates(dir.path);
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true, tls });

  const untrusted = handlerFor({ transport: "tls", port: rsyslog.tcpPort, reconnectMinMs: 10 });
  untrusted.handler.handle(record("never trusted"));
  await waitUntil(() => untrusted.handler.stats().failedConnects >= 3, "3 failed TLS handshakes");
  untrusted.handler.destroy();
  const reports = untrusted.errors.map((error) => error.message);
  assertEquals(reports.length, 2, reports.join("\n"));
  assertMatch(
    reports[0],
    /cannot connect: .*certificate/i,
    "one report for the episode, not one per retry",
  );
  assertMatch(reports[1], /closed with 1 records not delivered/);
  assertEquals(untrusted.handler.stats().abandoned, 1);

  const caCerts = [await Deno.readTextFile(tls.ca)];
  const { handler, errors } = handlerFor({ transport: "tls", port: rsyslog.tcpPort, caCerts });
  for (let i = 0; i < 100; i++) handler.handle(record(`tls ${i}\nline 2`, { seq: i }));
  await handler[Symbol.asyncDispose]();
  const received = await rsyslog.waitForReceived(100, "100 records over TLS");
  assertEquals(
    received.map((got) => got.msg),
    [...Array(100).keys()].map((i) => `tls ${i}\nline 2`),
  );
  assertEquals(errors, []);
});

/**
 * Logs through a real QueueListener and spawn(): 4 workers, `perWorker`
 * records each, while rsyslog is restarted with SIGTERM and then SIGKILL.
 * Returns what arrived per (worker, seq) and the handler's stats.
 */
async function restartWhileLogging(transport: "relp" | "tcp", perWorker: number) {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({
    dir: dir.path,
    ...(transport === "relp" ? { relp: true } : { tcp: true }),
  });
  const { handler, errors } = handlerFor({
    transport,
    port: transport === "relp" ? rsyslog.relpPort : rsyslog.tcpPort,
    maxBufferBytes: 256 * 1024 * 1024,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  }, "INFO");
  const total = 4 * perWorker;
  const listener = new QueueListener([handler]).start();
  const restarts = (async () => {
    await waitUntil(() => handler.stats().delivered >= total * 0.25, "a quarter delivered", 20_000);
    await rsyslog.restart("SIGTERM");
    await waitUntil(() => handler.stats().delivered >= total * 0.6, "60% delivered", 20_000);
    await rsyslog.restart("SIGKILL");
  })();
  try {
    await spawn<number>(fixture("count_worker.ts"), {
      count: 4,
      args: { records: perWorker, yieldEvery: 500 } satisfies CountArgs,
      listener,
    });
    await restarts;
    await handler.drained(AbortSignal.timeout(20_000));
  } finally {
    await restarts.catch(() => {});
    await listener.stop();
    await handler[Symbol.asyncDispose]();
  }
  const stats = handler.stats();
  // The file is complete once every delivered record is in; for TCP, what
  // was lost never comes, so wait for the count to stop growing instead.
  // One SIGKILL: rsyslogd may have left one line of its own file unfinished.
  let received = await rsyslog.received(1);
  for (let stable = 0; stable < 5 && received.length < total;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await rsyslog.received(1);
    stable = now.length === received.length ? stable + 1 : 0;
    received = now;
  }
  const copies = new Map<string, number>();
  for (const got of received) {
    const { worker, seq } = sdParams(got);
    assertEquals(got.msg, `record ${seq} {"i":${seq}}`, "every record arrives whole");
    const key = `${worker}/${seq}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  const duplicates = received.length - copies.size;
  return { stats, errors, total, received: received.length, unique: copies.size, duplicates };
}

Deno.test("RELP: 4 workers, rsyslog restarted with SIGTERM and SIGKILL while logging: every record arrives, duplicates counted", async () => {
  const perWorker = 10_000;
  const result = await restartWhileLogging("relp", perWorker);
  console.log(
    `RELP: ${result.total} records, ${result.received} received, ${result.unique} unique, ` +
      `${result.duplicates} duplicates, ${result.stats.resent} resent, ${result.stats.reconnects} reconnects`,
  );
  assertEquals(result.unique, result.total, "every record at least once");
  assertEquals(result.stats.acknowledged, result.total);
  assertEquals(result.stats.dropped, 0);
  assertEquals(result.stats.abandoned, 0);
  assertGreater(result.stats.reconnects, 1);
  assert(result.duplicates <= result.stats.resent, "a duplicate is a resent record");
  // One report per outage: each restart is one episode.
  assert(result.errors.length >= 1 && result.errors.length <= 2, result.errors.join("\n"));
});

Deno.test("TCP: the same restarts lose what was in flight; the loss is measured, not assumed zero", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const { handler } = handlerFor({
    port: rsyslog.tcpPort,
    maxBufferBytes: 256 * 1024 * 1024,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  }, "INFO");
  const perWorker = 10_000;
  const total = 4 * perWorker;
  const listener = new QueueListener([handler]).start();
  // TCP writes go into the kernel's buffers at once, so the restarts are
  // timed by what rsyslog has written, not by what the handler sent.
  const restarts = (async () => {
    await waitUntil(() => handler.stats().sent > 0, "the first write", 20_000);
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const before = await rsyslog.lineCount();
      const deadline = Date.now() + 3_000;
      while ((await rsyslog.lineCount()) < before + 1_000 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await rsyslog.restart(signal);
    }
  })();
  try {
    await spawn<number>(fixture("count_worker.ts"), {
      count: 4,
      args: { records: perWorker, yieldEvery: 500 } satisfies CountArgs,
      listener,
    });
    await restarts;
    // After the last restart (SIGKILL), records go through again: log one
    // at a time until one arrives (the first may go into the dead socket),
    // then 100 more, which all must arrive.
    let arrived = false;
    for (let k = 0; k < 50 && !arrived; k++) {
      handler.handle(record(`probe ${k}`, { worker: "main", seq: k }));
      await handler.drained(AbortSignal.timeout(5_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      arrived = (await rsyslog.received()).some((got) => got.msg.startsWith("probe "));
    }
    assert(arrived, "a probe record arrived after the restarts");
    for (let i = 0; i < 100; i++) handler.handle(record(`after ${i}`, { worker: "main", seq: i }));
    await handler.drained(AbortSignal.timeout(5_000));
  } finally {
    await restarts.catch(() => {});
    await listener.stop();
    await handler[Symbol.asyncDispose]();
  }
  let received = await rsyslog.received(1);
  const afterDeadline = Date.now() + 10_000;
  while (received.filter((got) => got.msg.startsWith("after ")).length < 100) {
    assert(Date.now() < afterDeadline, "waited 10 s for the 100 records logged after the restarts");
    await new Promise((resolve) => setTimeout(resolve, 50));
    received = await rsyslog.received(1);
  }
  const stats = handler.stats();
  const copies = new Map<string, number>();
  let after = 0;
  for (const got of received) {
    const { worker, seq } = sdParams(got);
    if (worker === "main") {
      if (got.msg.startsWith("after ")) assertEquals(got.msg, `after ${after++}`, "in order");
      continue;
    }
    assertEquals(got.msg, `record ${seq} {"i":${seq}}`, "every record arrives whole");
    copies.set(`${worker}/${seq}`, (copies.get(`${worker}/${seq}`) ?? 0) + 1);
  }
  const lost = total - copies.size;
  console.log(
    `TCP: ${total} records, ${stats.sent} sent in all (with probes and after), ` +
      `${copies.size} of the ${total} received, ${lost} lost, ` +
      `${
        [...copies.values()].filter((n) => n > 1).length
      } duplicated, ${stats.reconnects} reconnects`,
  );
  assertEquals(after, 100);
  assertEquals(stats.unconfirmed, stats.delivered);
  assertEquals(stats.acknowledged, 0);
  assertEquals(stats.dropped, 0);
  assertGreater(stats.reconnects, 0);
});

Deno.test("a receiver that is down at start: records wait and arrive once it comes up; one report", async () => {
  for (const transport of ["tcp", "relp"] as const) {
    await using dir = await tempDir();
    const port = freePort();
    const { handler, errors } = handlerFor({
      transport,
      port,
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
    });
    for (let i = 0; i < 10; i++) handler.handle(record(`early ${i}`, { seq: i }));
    await waitUntil(() => handler.stats().failedConnects >= 3, `3 failed ${transport} connects`);
    assertEquals(errors.length, 1, "one report for the outage, not one per retry");
    assertMatch(
      errors[0].message,
      new RegExp(`\\(${transport}://127\\.0\\.0\\.1:${port}\\) cannot connect`),
    );
    await using rsyslog = await Rsyslog.start({
      dir: dir.path,
      ...(transport === "relp" ? { relp: port } : { tcp: port }),
    });
    await handler.drained(AbortSignal.timeout(10_000));
    await handler[Symbol.asyncDispose]();
    const received = await rsyslog.waitForReceived(10, `the 10 early ${transport} records`);
    assertEquals(received.map((got) => got.msg), [...Array(10).keys()].map((i) => `early ${i}`));
    assertEquals(errors.length, 1);
    assertEquals(handler.stats().delivered, 10);
  }
});

Deno.test("a full buffer drops and counts, and the next message that goes through says how many", async () => {
  await using dir = await tempDir();
  const port = freePort();
  const { handler, errors } = handlerFor({
    port,
    maxMessageBytes: 1_000,
    maxBufferBytes: 2_000,
    reconnectMinMs: 10,
    reconnectMaxMs: 20,
  });
  for (let i = 0; i < 50; i++) handler.handle(record(`r ${i}`, { seq: i }));
  const { dropped, buffered } = handler.stats();
  assertGreater(dropped, 0);
  assertEquals(dropped + buffered, 50);
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: port });
  await handler.drained(AbortSignal.timeout(10_000));
  handler.handle(record("after the outage", { seq: 50 }));
  await handler[Symbol.asyncDispose]();
  const received = await rsyslog.waitForReceived(buffered + 2, "buffered, notice, next");
  const notice = received[buffered];
  assertEquals(
    notice.msg,
    `workerlog: dropped ${dropped} records because the syslog buffer was full (maxBufferBytes 2000)`,
  );
  assertEquals([notice.syslogseverity, notice.msgid], ["4", "workerlog"]);
  assertEquals(received[buffered + 1].msg, "after the outage");
  assertEquals(
    received.slice(0, buffered).map((got) => got.msg),
    [...Array(buffered).keys()].map((i) => `r ${i}`),
  );
  const reports = errors.map((error) => error.message);
  assertEquals(reports.filter((message) => message.includes("buffer is full")).length, 1);
});

Deno.test("close: delivers within closeTimeoutMs, else abandons, counts and reports; destroy() never hangs", async () => {
  const port = freePort();
  const { handler, errors } = handlerFor({ port, closeTimeoutMs: 100, reconnectMinMs: 10 });
  for (let i = 0; i < 5; i++) handler.handle(record(`lost ${i}`));
  const waiting = handler.drained();
  await handler[Symbol.asyncDispose]();
  const failure = await waiting.then(() => undefined, (error: WorkerlogError) => error);
  assertMatch(String(failure), /destroyed before it delivered the 5 records/);
  assertEquals(handler.stats().abandoned, 5);
  assertMatch(errors.at(-1)!.message, /closed with 5 records not delivered/);
  handler.handle(record("after close"));
  assertEquals(handler.stats().dropped, 1);
  handler.destroy(); // idempotent

  // destroy() mid-connection releases the socket at once (the sanitizer checks).
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, relp: true });
  const relp = handlerFor({ transport: "relp", port: rsyslog.relpPort });
  relp.handler.handle(record("one"));
  await relp.handler.drained();
  relp.handler.destroy();
  assertEquals(relp.errors, []);
});

Deno.test("a dead receiver does not hold up the FileHandler beside it: every record is filed, syslog counts every one, stop() is bounded", async () => {
  await using dir = await tempDir();
  const perWorker = 5_000;
  const total = 4 * perWorker;
  const closeTimeoutMs = 300;
  const file = jsonFile(dir.file("all.jsonl"));
  // Nobody listens on the port; the buffer holds a few hundred records.
  const { handler: syslog, errors } = handlerFor({
    port: freePort(),
    maxMessageBytes: 1_000,
    maxBufferBytes: 64 * 1024,
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    closeTimeoutMs,
  }, "INFO");
  const listener = new QueueListener([file, syslog]).start();
  let stopped = false;
  try {
    await spawn<number>(fixture("count_worker.ts"), {
      count: 4,
      args: { records: perWorker, yieldEvery: 500 } satisfies CountArgs,
      listener,
    });
    const during = syslog.stats();
    assertEquals(during.delivered, 0, "nothing can be delivered to a dead receiver");
    assertGreater(during.dropped, 0, "the buffer filled up and dropped");
    // Nothing was delivered, so every record is either dropped or still
    // buffered (no drop notice fits while the buffer stays full).
    assertEquals(
      during.dropped + during.buffered + during.delivered,
      total,
      `dropped ${during.dropped} + buffered ${during.buffered} + delivered ${during.delivered}`,
    );
    // stop() closes the syslog handler, which may wait closeTimeoutMs and
    // not more: a bounded wait that names what it waited for.
    const slackMs = 5_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `listener.stop() did not finish within closeTimeoutMs ${closeTimeoutMs} + ${slackMs} ms`,
            ),
          ),
        closeTimeoutMs + slackMs,
      );
    });
    try {
      await Promise.race([listener.stop(), late]);
      stopped = true;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    if (!stopped) await listener.stop();
  }
  const after = syslog.stats();
  assertEquals(after.buffered, 0, "the handler was closed: nothing stays buffered");
  assertEquals(after.delivered, 0);
  // What was buffered at the end is abandoned, plus the drop notice if it fit.
  assertEquals(after.accepted, after.abandoned, "every accepted message was abandoned");
  const notices = after.accepted - (total - after.dropped);
  assert(notices === 0 || notices === 1, `at most one drop notice got in, not ${notices}`);
  const lines = await readJsonLines(dir.file("all.jsonl"));
  assertEquals(lines.length, total, "every record reached the FileHandler");
  assertEquals([...assertCompleteAndOrdered(lines).values()], [
    perWorker,
    perWorker,
    perWorker,
    perWorker,
  ]);
  const reports = errors.map((error) => error.message);
  assert(reports.some((message) => message.includes("cannot connect")), reports.join("\n"));
  assert(reports.some((message) => message.includes("buffer is full")), reports.join("\n"));
  assert(reports.some((message) => message.includes("records not delivered")), reports.join("\n"));
});

Deno.test("the listener's reporter replaces the default one, not an onError given", async () => {
  const port = freePort();
  const reported: Error[] = [];
  const handler = new SyslogHandler("INFO", { port, reconnectMinMs: 10 });
  handler.reportErrorsTo((error) => reported.push(error));
  handler.handle(record("x"));
  await waitUntil(() => reported.length === 1, "the connect failure, reported to the listener");
  handler.destroy();
  assertMatch(reported[0].message, /cannot connect/);

  const own: Error[] = [];
  const chosen = new SyslogHandler("INFO", { port, onError: (error) => own.push(error) });
  chosen.reportErrorsTo(() => {
    throw new Error("must not be used");
  });
  chosen.handle(record("x"));
  await waitUntil(() => own.length === 1, "the connect failure, reported to onError");
  chosen.destroy();
});

Deno.test("a misbehaving RELP peer is reported, and the records stay buffered", async () => {
  const answers = [
    ["1 rsp 11 500 go away\n", /refused the session: "500 go away"/],
    ["1 rsp 6 200 OK\n", /does not offer the syslog command/],
    ["hello there, I am not RELP at all\n", /malformed RELP/],
  ] as const;
  for (const [answer, expected] of answers) {
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      const conn = await server.accept();
      await conn.read(new Uint8Array(1_024));
      await conn.write(new TextEncoder().encode(answer));
      await conn.read(new Uint8Array(1_024)).catch(() => null); // until the client closes
      conn.close();
    })();
    const { handler, errors } = handlerFor({
      transport: "relp",
      port: (server.addr as Deno.NetAddr).port,
      reconnectMinMs: 60_000,
    });
    handler.handle(record("kept"));
    await waitUntil(() => errors.length === 1, `the report for ${JSON.stringify(answer)}`);
    assertMatch(errors[0].message, expected);
    assertEquals(handler.stats().buffered, 1);
    handler.destroy();
    await serving;
    server.close();
  }
});

Deno.test("UDP: one datagram per record; longer ones are truncated at a character boundary, or dropped; counted", async () => {
  const socket = createSocket("udp4");
  const datagrams: string[] = [];
  socket.on("message", (message: Uint8Array) => datagrams.push(new TextDecoder().decode(message)));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  try {
    const truncating = handlerFor({ transport: "udp", port, maxMessageBytes: 600 });
    truncating.handler.handle(record("short"));
    truncating.handler.handle(record("é".repeat(400))); // 800 bytes of MSG alone
    await truncating.handler[Symbol.asyncDispose]();
    await waitUntil(() => datagrams.length === 2, "2 datagrams");
    // UDP keeps no order: find each by its content.
    assertEquals(datagrams.filter((datagram) => datagram.endsWith("] short")).length, 1);
    const long = datagrams.find((datagram) => datagram.includes("éé"))!;
    const bytes = new TextEncoder().encode(long).length;
    assert(bytes <= 600 && bytes >= 599, `truncated to ${bytes} bytes`);
    assert(long.endsWith("é") && !long.includes("\ufffd"), "no character cut in half");
    assertEquals(truncating.handler.stats().truncated, 1);

    const dropping = handlerFor({ transport: "udp", port, maxMessageBytes: 600, oversize: "drop" });
    dropping.handler.handle(record("é".repeat(400)));
    dropping.handler.handle(record("fits"));
    await dropping.handler[Symbol.asyncDispose]();
    await waitUntil(() => datagrams.length === 3, "the third datagram");
    assert(datagrams[2].endsWith("] fits"));
    assertEquals(dropping.handler.stats().oversized, 1);
    assertEquals(dropping.handler.stats().delivered, 1);
  } finally {
    socket.close();
  }
});

Deno.test("bad options are refused with the option, the value and what to pass", () => {
  const cases: [SyslogHandlerOptions, string, RegExp][] = [
    [{ transport: "smtp" as "tcp" }, "transport", /"tcp", "tls", "udp", "relp"/],
    [{ port: 0 }, "port", /from 1 to 65535/],
    [{ port: 1.5 }, "port", /whole number/],
    [{ host: "" }, "host", /host name or IP address/],
    [{ facility: "local9" as "local0" }, "facility", /local7/],
    [{ facility: 24 }, "facility", /0 to 23/],
    [{ hostname: "my host" }, "hostname", /printable US-ASCII/],
    [{ appName: "a".repeat(49) }, "appName", /1 to 48/],
    [{ enterpriseId: "acme" }, "enterpriseId", /private enterprise number/],
    [{ maxMessageBytes: 100 }, "maxMessageBytes", /from 480/],
    [{ transport: "udp", maxMessageBytes: 70_000 }, "maxMessageBytes", /to 65507/],
    [{ maxMessageBytes: 1_000, maxBufferBytes: 1_500 }, "maxBufferBytes", /from 2000/],
    [{ oversize: "split" as "drop" }, "oversize", /"truncate" or "drop"/],
    [{ caCerts: ["x"] }, "caCerts", /unless transport is "tls"/],
    [{ transport: "tls", caCerts: ["/etc/ca.pem"] }, "caCerts", /PEM certificates/],
    [{ reconnectMinMs: 500, reconnectMaxMs: 100 }, "reconnectMaxMs", /from 500/],
    [{ relpWindow: 0 }, "relpWindow", /from 1/],
    [{ utf8Bom: "yes" as unknown as boolean }, "utf8Bom", /true or false/],
    [{ onError: "log" as unknown as () => void }, "onError", /a function/],
  ];
  for (const [options, option, expected] of cases) {
    const error = assertThrows(() => new SyslogHandler("INFO", options), InvalidOptionError);
    assertEquals(error.option, option);
    assertMatch(error.message, expected);
  }
});

/**
 * 4 workers flood one QueueListener into a FileHandler and a SyslogHandler
 * (default buffer sizes) while rsyslog is up. A watcher on a thread of its
 * own raises a flag the first time rsyslog's file has `threshold` lines and
 * notes how far each worker was; the workers log `after` more once they see
 * it. Returns what the workers logged, where they were, and what arrived.
 */
async function floodWhileDelivering(transport: "tcp" | "relp") {
  const workers = 4;
  const threshold = 1_000;
  // Far more than a working handler lets them log (they stop soon after the
  // flag): a busy machine may take a while to start the handler's worker.
  const maxRecords = 300_000;
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({
    dir: dir.path,
    ...(transport === "relp" ? { relp: true } : { tcp: true }),
  });
  const shared = new SharedArrayBuffer(4 * (1 + 2 * workers));
  const view = new Int32Array(shared);
  const watcher = new Worker(fixture("sink_watch_worker.ts"), { type: "module" });
  try {
    watcher.postMessage({ watch: "file", path: rsyslog.output, shared, workers, threshold });
    const { handler, errors } = handlerFor({
      transport,
      port: transport === "relp" ? rsyslog.relpPort : rsyslog.tcpPort,
    }, "INFO");
    const listener = new QueueListener([jsonFile(dir.file("all.jsonl")), handler]).start();
    let logged: number[];
    try {
      logged = await spawn<number>(fixture("sink_flood_worker.ts"), {
        count: workers,
        args: { shared, maxRecords, after: 2_000, yieldEvery: 500 } satisfies FloodArgs,
        listener,
      });
      await handler.drained(AbortSignal.timeout(30_000));
    } finally {
      await listener.stop();
    }
    assertProgressBeforeEnd(view, logged, maxRecords, "rsyslog");
    const total = logged.reduce((sum, n) => sum + n, 0);
    const received = await rsyslog.waitForReceived(total, `all ${total} ${transport} records`);
    const copies = new Map<string, number>();
    for (const got of received) {
      const { worker, seq } = sdParams(got);
      const key = `${worker}/${seq}`;
      copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    const filed = assertCompleteAndOrdered(await readJsonLines(dir.file("all.jsonl")));
    return {
      snapshot: [...view.subarray(1 + workers)],
      logged,
      total,
      filed: logged.map((_, k) => filed.get(`worker-${k}`) ?? 0),
      stats: handler.stats(),
      errors,
      received: received.length,
      unique: copies.size,
    };
  } finally {
    watcher.terminate();
  }
}

/**
 * The watcher's flag is up, and every worker was still logging when it went
 * up: it had logged fewer records then than in the end, and it saw the flag
 * before its `maxRecords`.
 */
function assertProgressBeforeEnd(
  view: Int32Array,
  logged: number[],
  maxRecords: number,
  receiver: string,
) {
  assertEquals(view[0], 1, `${receiver} never got its first records`);
  logged.forEach((total, k) => {
    const then = view[1 + logged.length + k];
    assert(
      then < total && total < maxRecords,
      `worker ${k} had logged ${then} of its ${total} records (at most ${maxRecords}) when ` +
        `${receiver} had its first records: they must arrive while the workers still log`,
    );
  });
}

function assertDeliveredDuringFlood(result: Awaited<ReturnType<typeof floodWhileDelivering>>) {
  assertEquals(result.filed, result.logged, "every record in the FileHandler's file");
  assertEquals(result.unique, result.total, "every record in rsyslog's file");
  assertEquals([result.stats.dropped, result.stats.abandoned], [0, 0], "nothing dropped");
  assertEquals(result.errors, []);
}

Deno.test("TCP under a sustained 4-worker flood: rsyslog gets records while the workers log, and every one", async () => {
  const result = await floodWhileDelivering("tcp");
  console.log(
    `TCP flood: ${result.total} records; rsyslog had its first ${1_000} when the workers were at ` +
      `${result.snapshot.join(", ")} of ${result.logged.join(", ")}`,
  );
  assertDeliveredDuringFlood(result);
  assertEquals(result.received, result.total, "no duplicates over TCP");
  assertEquals(result.stats.delivered, result.total);
});

Deno.test("RELP under a sustained 4-worker flood: acknowledged while the workers log, every record at least once", async () => {
  const result = await floodWhileDelivering("relp");
  console.log(
    `RELP flood: ${result.total} records, ${result.received - result.unique} duplicates; rsyslog ` +
      `had its first ${1_000} when the workers were at ${result.snapshot.join(", ")} of ` +
      `${result.logged.join(", ")}`,
  );
  assertDeliveredDuringFlood(result);
  assertEquals(result.stats.acknowledged, result.total);
  assert(result.received - result.unique <= result.stats.resent, "a duplicate is a resent record");
});
