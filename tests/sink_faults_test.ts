// A sink that fails does not crash the program, is reported once with its
// path and cause, and does not stop the other handlers.
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Logger } from "@std/log";
import {
  BatchFileHandler,
  ForwardingError,
  type HandlerError,
  jsonLinesFormatter,
  LogFileReplacedError,
  QueueListener,
  SyslogHandler,
} from "@workerlog/workerlog";
import { fixture, jsonFile, readJsonLines, readLines, tempDir, waitFor } from "./_helpers.ts";

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("sink faults: a FileHandler on a full disk is reported once; the other handler gets everything; the program exits cleanly", async () => {
  await using dir = await tempDir();
  const good = dir.file("good.log");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all", // /dev/full is a device: Deno wants every permission for it
      fixture("full_disk_main.ts").pathname,
      good,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr);
  assertEquals(code, 0, errors);
  assertEquals(errors, "", "nothing escaped to stderr, not even at exit");
  const { reports, stats } = JSON.parse(new TextDecoder().decode(stdout));
  assertEquals(reports.length, 1);
  assertStringIncludes(reports[0], "FileHandler (/dev/full) failed: No space left on device");
  assertGreater(stats.handlerErrors, 0);
  assertEquals(stats.dispatched, 10_000);
  assertEquals((await readJsonLines(good)).length, 10_000);
});

Deno.test("sink faults: a BatchFileHandler on a full disk is reported once and the others keep receiving", async () => {
  await using dir = await tempDir();
  const good = dir.file("good.log");
  const reports: HandlerError[] = [];
  {
    await using listener = new QueueListener([
      new BatchFileHandler("INFO", { filename: "/dev/full", bufferSize: 1024 }),
      jsonFile(good),
    ], { onError: (error) => reports.push(error) }).start();
    const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
    for (let i = 0; i < 2_000; i++) {
      logger.info(`record ${i}`);
      if (i % 500 === 0) await nextTurn();
    }
  }
  assertEquals(reports.length, 1);
  assertStringIncludes(
    reports[0].message,
    "BatchFileHandler (/dev/full): No space left on device",
  );
  assertEquals((await readLines(good)).length, 2_000);
});

for (const what of ["file", "directory"] as const) {
  Deno.test(`sink faults: a BatchFileHandler whose ${what} is deleted creates it again and reports it once`, async () => {
    await using dir = await tempDir();
    const file = dir.file("logs/batch.log");
    const other = dir.file("other.log");
    const reports: HandlerError[] = [];
    {
      await using listener = new QueueListener([
        new BatchFileHandler("INFO", { filename: file, formatter: jsonLinesFormatter }),
        jsonFile(other),
      ], { onError: (error) => reports.push(error) }).start();
      const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
      for (let i = 0; i < 100; i++) logger.info(`before ${i}`);
      await nextTurn();
      assertEquals((await readLines(file)).length, 100);
      await Deno.remove(what === "file" ? file : dir.file("logs"), { recursive: true });
      await nextTurn();
      for (let i = 0; i < 100; i++) logger.info(`after ${i}`);
      await nextTurn();
    }
    const lines = await readJsonLines(file);
    assertEquals(
      lines.map((line) => line.msg),
      Array.from({ length: 100 }, (_, i) => `after ${i}`),
    );
    assertEquals((await readLines(other)).length, 200);
    assertEquals(reports.length, 1);
    const cause = reports[0].cause;
    assertInstanceOf(cause, LogFileReplacedError);
    assertEquals(cause.path, file);
    assertStringIncludes(reports[0].message, "was deleted (or its directory removed)");
  });
}

Deno.test("sink faults: without onError, failures go to console.error", async () => {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    await using listener = new QueueListener([
      new BatchFileHandler("INFO", { filename: "/dev/full", bufferSize: 64 }),
    ]).start();
    new Logger("app", "INFO", { handlers: [listener.handler()] }).info("x".repeat(100));
  } finally {
    console.error = original;
  }
  assertEquals(printed.length, 1);
  assert(String(printed[0][0]).includes("No space left on device"), String(printed[0][0]));
});

/**
 * A TCP listener on 127.0.0.1 that accepts every connection and says
 * nothing: it holds each one open ("silent") or closes it at once ("drop").
 */
function acceptingPeer(mode: "silent" | "drop") {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of server) {
      accepted++;
      if (mode === "drop") conn.close();
      else held.push(conn);
    }
  })();
  return {
    port: (server.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      server.close();
      await accepting;
      for (const conn of held) conn.close();
    },
  };
}

Deno.test("sink faults: a TLS receiver that accepts but never handshakes times out, is retried and reported once; close is bounded", async () => {
  await using peer = acceptingPeer("silent");
  const errors: Error[] = [];
  const closeTimeoutMs = 200;
  const handler = new SyslogHandler("INFO", {
    transport: "tls",
    port: peer.port,
    connectTimeoutMs: 200,
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    closeTimeoutMs,
    onError: (error) => errors.push(error),
  });
  try {
    handler.log("never delivered");
    await waitFor("3 timed-out handshakes", () => handler.stats().failedConnects >= 3, 5_000);
    assertGreater(peer.accepted, 2, "each retry is a new connection");
    assertEquals(errors.length, 1, "one report for the episode, not one per retry");
    assertInstanceOf(errors[0], ForwardingError);
    assertMatch(errors[0].message, /cannot connect: .*TLS handshake within 200 ms/);
    const started = Date.now();
    await handler[Symbol.asyncDispose]();
    // Past closeTimeoutMs the handler waits 2 s more only for a stuck worker.
    assertLess(Date.now() - started, closeTimeoutMs + 1_000);
  } finally {
    handler.destroy();
  }
});

Deno.test("sink faults: a TCP receiver that accepts and drops every connection is reported once, and reconnects back off", async () => {
  await using peer = acceptingPeer("drop");
  const errors: Error[] = [];
  const handler = new SyslogHandler("INFO", {
    port: peer.port,
    reconnectMinMs: 100,
    closeTimeoutMs: 0,
    onError: (error) => errors.push(error),
  });
  try {
    for (const end = Date.now() + 2_000; Date.now() < end;) {
      handler.log("taken by the kernel, dropped by the receiver");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const reports = errors.map((error) => error.message);
    assertEquals(reports.length, 1, reports.join("\n"));
    assertMatch(reports[0], /lost the connection/);
    // Every 50-100 ms (reconnectMinMs) would be about 25 reconnects in 2 s;
    // doubling delays (from 50, 100, 200, 400, 800 ms) leave room for 5.
    const { reconnects } = handler.stats();
    assertGreater(reconnects, 1);
    assertLess(reconnects, 7);
  } finally {
    handler.destroy();
  }
});
