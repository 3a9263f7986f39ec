// SyslogHandler against a real rsyslogd (imtcp, imtcp over TLS, imrelp),
// started and stopped by each test; UDP against a real loopback socket.
// Restarts and floods under load are in syslog_under_load_test.ts.
import { assert, assertEquals, assertGreater, assertMatch, assertThrows } from "@std/assert";
import { LogRecord } from "@std/log/logger";
import { createSocket } from "node:dgram";
import {
  InvalidOptionError,
  QueueListener,
  spawn,
  type WorkerlogError,
} from "@workerlog/workerlog";
import { SyslogHandler, type SyslogHandlerOptions } from "@workerlog/workerlog";
import { makeCertificates, Rsyslog } from "./_rsyslog.ts";
import { handlerFor, record, sdParams } from "./_syslog.ts";
import {
  assertCompleteAndOrdered,
  fixture,
  freePort,
  jsonFile,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";
import type { CountArgs } from "./fixtures/count_worker.ts";

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
  await waitFor("3 failed TLS handshakes", () => untrusted.handler.stats().failedConnects >= 3);
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
    await waitFor(`3 failed ${transport} connects`, () => handler.stats().failedConnects >= 3);
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

Deno.test("lines without their records (preformat, respectHandlerLevel: false) arrive at their own severity, above the handler's level too", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const perLevel = 3;
  const { handler: warnOnly, errors } = handlerFor({ port: rsyslog.tcpPort }, "INFO");
  warnOnly.level = 30;
  await spawn(fixture("levels_worker.ts"), {
    count: 1,
    args: { perLevel },
    handlers: [warnOnly],
    preformat: true,
  });
  // WARN, ERROR and CRITICAL lines, each as its own severity (4, 3, 2).
  const lines = await rsyslog.waitForReceived(3 * perLevel, "the preformatted lines");
  assertEquals(
    lines.map((got) => got.syslogseverity),
    Array.from({ length: perLevel }, () => ["4", "3", "2"]).flat(),
  );
  lines.forEach((got, i) => {
    const level = ["WARN", "ERROR", "CRITICAL"][i % 3];
    assertMatch(
      got.msg,
      new RegExp(`^\\S+Z ${level} \\[worker-0\\] default: ${level.toLowerCase()} `),
    );
    assertEquals([got.msgid, got["structured-data"]], ["-", "-"], "a line has no record's fields");
  });

  const { handler: everything, errors: moreErrors } = handlerFor({ port: rsyslog.tcpPort }, "INFO");
  everything.level = 50;
  // Below every handler's level: the senders must send it all, too.
  const listener = new QueueListener([everything], { respectHandlerLevel: false }).start();
  await spawn(fixture("levels_worker.ts"), {
    count: 1,
    args: { perLevel },
    listener,
    loggers: { default: { level: "DEBUG" } },
  });
  await listener.stop();
  const all = (await rsyslog.waitForReceived(8 * perLevel, "every record")).slice(3 * perLevel);
  assertEquals(
    all.map((got) => [got.syslogseverity, got.msg]),
    Array.from({ length: perLevel }, (_, i) => [
      ["7", `debug ${i}`],
      ["6", `info ${i}`],
      ["4", `warn ${i}`],
      ["3", `error ${i}`],
      ["2", `critical ${i}`],
    ]).flat(),
  );
  assertEquals([...errors, ...moreErrors], []);
});

Deno.test("a handler destroyed by log.setup() opens again at its setup(); what came while closed is counted and reported once", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const { handler, errors } = handlerFor({ port: rsyslog.tcpPort });
  handler.handle(record("before", { seq: 0 }));
  await handler.drained();
  handler.destroy();
  handler.handle(record("while closed 1"));
  handler.handle(record("while closed 2"));
  assertEquals(handler.stats().dropped, 2);
  assertEquals(errors.length, 1, errors.map((error) => error.message).join("\n"));
  assertMatch(errors[0].message, /is closed, so records logged to it are dropped/);
  handler.setup();
  handler.handle(record("after", { seq: 1 }));
  await handler.drained();
  await handler[Symbol.asyncDispose]();
  const received = await rsyslog.waitForReceived(2, "the records before and after");
  assertEquals(received.map((got) => got.msg), ["before", "after"]);
  const stats = handler.stats();
  assertEquals([stats.accepted, stats.delivered, stats.dropped, stats.buffered], [2, 2, 2, 0]);
  assertEquals(errors.length, 1);
});

Deno.test("a formatter that throws drops its record, counted, and is reported once until a record renders again", () => {
  const { handler, errors } = handlerFor({
    port: freePort(),
    formatter: (r) => {
      if (r.msg === "bad") throw new Error("no body for you");
      return r.msg;
    },
  });
  for (const msg of ["bad", "bad", "good", "bad", "bad"]) handler.handle(record(msg));
  handler.destroy();
  const reports = errors.filter((error) => error.message.includes("the formatter threw"));
  assertEquals(reports.length, 2, reports.map((error) => error.message).join("\n"));
  assertMatch(reports[0].message, /no body for you.*fix the formatter/);
  assertEquals(handler.stats().dropped, 4);
});

Deno.test("the listener's reporter replaces the default one, not an onError given", async () => {
  const port = freePort();
  const reported: Error[] = [];
  const handler = new SyslogHandler("INFO", { port, reconnectMinMs: 10 });
  handler.reportErrorsTo((error) => reported.push(error));
  handler.handle(record("x"));
  await waitFor("the connect failure, reported to the listener", () => reported.length === 1);
  handler.destroy();
  assertMatch(reported[0].message, /cannot connect/);

  const own: Error[] = [];
  const chosen = new SyslogHandler("INFO", { port, onError: (error) => own.push(error) });
  chosen.reportErrorsTo(() => {
    throw new Error("must not be used");
  });
  chosen.handle(record("x"));
  await waitFor("the connect failure, reported to onError", () => own.length === 1);
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
    await waitFor(`the report for ${JSON.stringify(answer)}`, () => errors.length === 1);
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
    await waitFor("2 datagrams", () => datagrams.length === 2);
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
    await waitFor("the third datagram", () => datagrams.length === 3);
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
