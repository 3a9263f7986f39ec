import {
  assert,
  assertEquals,
  assertFalse,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { BaseHandler, FileHandler, Logger, setup } from "@std/log";
import {
  type HandlerError,
  jsonLinesFormatter,
  ListenerStateError,
  LogFileReplacedError,
  QueueHandler,
  QueueListener,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  readJsonLines,
  readLines,
  tempDir,
} from "./_helpers.ts";

/** A FileHandler that counts how often it is destroyed. */
class CountingFileHandler extends FileHandler {
  destroyed = 0;
  override destroy() {
    this.destroyed++;
    super.destroy();
  }
}

/** Whether this process holds `path` open (Linux: asks `ls` about /proc/<pid>/fd). */
async function holdsOpen(path: string): Promise<boolean> {
  const { stdout } = await new Deno.Command("ls", { args: ["-l", `/proc/${Deno.pid}/fd`] })
    .output();
  return new TextDecoder().decode(stdout).includes(path);
}

Deno.test("listener: stop() twice is harmless and destroys each handler once", async () => {
  await using dir = await tempDir();
  const handler = new CountingFileHandler("INFO", { filename: dir.file("out.log") });
  const listener = new QueueListener([handler]).start();
  const first = listener.stop();
  const second = listener.stop();
  assertStrictEquals(first, second);
  await first;
  await listener.stop();
  assertEquals(handler.destroyed, 1);
});

Deno.test("listener: `await using` writes everything and closes the file", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  {
    await using listener = new QueueListener([
      jsonFile(file),
    ]).start();
    const logger = new Logger("main", "INFO", { handlers: [listener.handler()] });
    for (let i = 0; i < 10; i++) logger.info(`line ${i}`);
    assert(await holdsOpen(file), "the listener holds the file open");
  }
  assertFalse(await holdsOpen(file), "the file is closed once the scope ends");
  assertEquals((await readLines(file)).length, 10);
});

Deno.test("listener: connect() before start() or after stop() says what to do", async () => {
  const listener = new QueueListener([]);
  assertThrows(() => listener.connect(), ListenerStateError, "call listener.start() first");
  listener.start();
  await listener.stop();
  assertThrows(() => listener.connect(), ListenerStateError, "Create a new QueueListener");
  assertThrows(() => listener.start(), ListenerStateError, "create a new one");
});

Deno.test("listener: sender names are unique", async () => {
  await using listener = new QueueListener([]).start();
  listener.connect({ name: "a" });
  assertThrows(() => listener.connect({ name: "a" }), Error, "a name no other sender");
  assertThrows(() => listener.connect({ name: "main" }), Error, "a name no other sender");
  assertEquals(listener.connect().name, "worker-0");
});

Deno.test("listener: QueueHandler.flush() resolves only once the listener has written everything before it", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([
    new FileHandler("INFO", { filename: file, formatter: jsonLinesFormatter, bufferSize: 1 << 20 }),
  ]).start();
  const handler = new QueueHandler("INFO", { connection: listener.connect({ name: "local" }) });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (let i = 0; i < 1_500; i++) logger.info(`record ${i}`, i);
  assertEquals(Deno.readTextFileSync(file), "", "nothing is written synchronously");
  await handler.flush();
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 1_500);
  assertCompleteAndOrdered(lines);
  assertEquals(lines[1_499].args, [1_499]);
});

Deno.test("listener: args are captured when logged, not when the batch is posted", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const handler = new QueueHandler("INFO", { connection: listener.connect() });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  const state = { count: 0 };
  for (let i = 0; i < 3; i++) {
    state.count = i;
    logger.info("state", state);
  }
  await handler.flush();
  assertEquals((await readJsonLines(file)).map((line) => line.args), [
    [{ count: 0 }],
    [{ count: 1 }],
    [{ count: 2 }],
  ]);
});

Deno.test("listener: main-thread logging through handler() shares the listener's file", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const fileHandler = new CountingFileHandler("INFO", {
    filename: file,
    formatter: jsonLinesFormatter,
  });
  {
    await using listener = new QueueListener([fileHandler]).start();
    setup({
      handlers: { queue: listener.handler() },
      loggers: { default: { level: "INFO", handlers: ["queue"] } },
    });
    const { info } = await import("@std/log");
    info("one");
    setup({
      handlers: { queue: listener.handler("WARN") },
      loggers: { default: { level: "INFO", handlers: ["queue"] } },
    });
    info("below the new handler's level");
    const { warn } = await import("@std/log");
    warn("two");
    assertEquals(fileHandler.destroyed, 0, "log.setup() does not destroy the listener's handlers");
  }
  setup({});
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => `${line.worker} ${line.seq} ${line.msg}`), [
    "main 0 one",
    "main 1 two",
  ]);
});

Deno.test("listener: a hand-made worker attached with attach() logs into the listener's file", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const worker = new Worker(fixture("hand_made_worker.ts"), { type: "module" });
  try {
    await using listener = new QueueListener([
      jsonFile(file),
    ]).start();
    assertEquals(listener.attach(worker, { name: "by-hand" }), "by-hand");
    const reply = new Promise<unknown>((resolve) =>
      worker.onmessage = (event) => resolve(event.data)
    );
    worker.postMessage({ records: 300 });
    assertEquals(await reply, { done: 300 });
    const lines = await readJsonLines(file);
    assertEquals(lines.length, 300, "flush() in the worker means written in main");
    assertCompleteAndOrdered(lines);
    assert(lines.every((line) => line.worker === "by-hand" && line.logger === "jobs"));
  } finally {
    worker.terminate();
  }
});

Deno.test("listener: a handler that throws is reported once and the others get every record", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  class ThrowingHandler extends BaseHandler {
    calls = 0;
    log() {
      this.calls++;
      throw new Error("sink exploded");
    }
  }
  const throwing = new ThrowingHandler("INFO");
  const reports: HandlerError[] = [];
  {
    await using listener = new QueueListener(
      [throwing, jsonFile(file)],
      { onError: (error) => reports.push(error) },
    ).start();
    const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
    for (let i = 0; i < 100; i++) logger.info(`record ${i}`);
    assertEquals(listener.stats().handlerErrors, 100);
  }
  assertEquals(throwing.calls, 100);
  assertEquals(reports.length, 1);
  assertEquals(reports[0].handler, "ThrowingHandler");
  assertStringIncludes(reports[0].message, "sink exploded");
  assertStringIncludes(reports[0].message, "The other handlers keep receiving records");
  assertEquals((await readLines(file)).length, 100);
});

Deno.test("listener: handlers that throw odd values, new messages or new classes are reported once per class, bounded per handler; a sink's own faults each time; nothing is lost", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  class Throwing extends BaseHandler {
    constructor(readonly what: (at: number) => unknown) {
      super("INFO");
    }
    log() {
      const error = this.what(++this.calls);
      if (error !== undefined) throw error;
    }
    calls = 0;
  }
  const handlers = [
    new Throwing((at) => Object.assign(new Error("x"), { name: `E${at}` })),
    new Throwing(() => Object.create(null)),
    new Throwing(() => revoked),
    new Throwing((at) => new Error(`record ${at} failed`)),
    // A sink's own report, here each time its file was replaced.
    new Throwing((at) =>
      at % 50 === 0 ? new LogFileReplacedError("app.log", "deleted") : undefined
    ),
  ];
  const reports: HandlerError[] = [];
  const records = 200;
  {
    await using listener = new QueueListener(
      [...handlers, jsonFile(file)],
      { onError: (error) => reports.push(error) },
    ).start();
    const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
    for (let i = 0; i < records; i++) logger.info(`record ${i}`);
    assertEquals(listener.stats().handlerErrors, 4 * records + records / 50);
  }
  assertEquals(handlers.map((handler) => handler.calls), Array(5).fill(records));
  const count = (pattern: RegExp) =>
    reports.filter((report) => pattern.test(report.message)).length;
  assertEquals(count(/^Throwing failed: x\./), 64, "a new class each time: 64, then counted only");
  assertEquals(count(/null prototype/), 1);
  assertEquals(count(/cannot be described/), 1);
  assertEquals(count(/record \d+ failed/), 1);
  assertEquals(count(/was deleted/), records / 50, "a sink's own fault, each time");
  assertEquals(reports.length, 64 + 3 + records / 50);
  assertEquals([...assertCompleteAndOrdered(await readJsonLines(file))], [["main", records]]);
});

Deno.test("listener: records are rebuilt as WorkerLogRecords with the sender's name and index", async () => {
  const seen: WorkerLogRecord[] = [];
  class Collect extends BaseHandler {
    override handle(record: WorkerLogRecord) {
      seen.push(record);
    }
    log() {}
  }
  await using listener = new QueueListener([new Collect("DEBUG")]).start();
  const handler = new QueueHandler("DEBUG", {
    connection: listener.connect({ name: "w", index: 3 }),
  });
  new Logger("app", "DEBUG", { handlers: [handler] }).warn("hello", { a: 1 });
  await handler.flush();
  assertEquals(seen.length, 1);
  const [record] = seen;
  assert(record instanceof WorkerLogRecord);
  assertEquals(
    [
      record.worker,
      record.workerIndex,
      record.seq,
      record.loggerName,
      record.levelName,
      record.msg,
    ],
    ["w", 3, 0, "app", "WARN", "hello"],
  );
  assertEquals(record.args, [{ a: 1 }]);
});

Deno.test("listener: a QueueHandler on the listener's own thread is never capped, so it cannot deadlock", async () => {
  const seen: string[] = [];
  class Collect extends BaseHandler {
    log(msg: string) {
      seen.push(msg);
    }
  }
  await using listener = new QueueListener([new Collect("INFO")], { maxInFlight: 10 }).start();
  const handler = new QueueHandler("INFO", { connection: listener.connect(), batchSize: 4 });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (let i = 0; i < 1_000; i++) logger.info(`record ${i}`);
  await handler.flush();
  assertEquals(seen.length, 1_000);
  assertEquals(seen[999], "INFO record 999");
});

Deno.test("listener: attach(port) reaches a worker that set up logging from that port", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const worker = new Worker(fixture("port_worker.ts"), { type: "module" });
  try {
    await using listener = new QueueListener([jsonFile(file)]).start();
    const { port1, port2 } = new MessageChannel();
    listener.attach(port1, { name: "via-port" });
    const done = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage({ logPort: port2, records: 200 }, [port2]);
    await done;
    const lines = await readJsonLines(file);
    assertEquals(lines.length, 200);
    assertCompleteAndOrdered(lines);
    assert(lines.every((line) => line.worker === "via-port"));
  } finally {
    worker.terminate();
  }
});

Deno.test("listener: log(line) on a QueueHandler or on handler() passes a finished line at that handler's level", async () => {
  const lines: string[] = [];
  class Lines extends BaseHandler {
    log(msg: string) {
      lines.push(msg);
    }
  }
  await using listener = new QueueListener([new Lines("WARN")]).start();
  const queue = new QueueHandler("ERROR", { connection: listener.connect() });
  queue.log("from a worker, already formatted");
  // Untyped callers: anything else goes as its description, never throwing.
  queue.log(42 as unknown as string);
  queue.log(Object.create(null));
  await queue.flush();
  listener.handler("INFO").log("below WARN, so not written");
  listener.handler("CRITICAL").log("from main, already formatted");
  assertEquals(lines, [
    "from a worker, already formatted",
    "42",
    "[Object: null prototype] {}",
    "from main, already formatted",
  ]);
});

Deno.test("stats: a listener that outlives many senders lists the last 1,024 detached, and still counts every record", async () => {
  await using listener = new QueueListener([]).start();
  const senders = 1_030;
  for (let i = 0; i < senders; i++) {
    const handler = new QueueHandler("INFO", { connection: listener.connect({ name: `s${i}` }) });
    const logger = new Logger("app", "INFO", { handlers: [handler] });
    logger.info("one");
    if (i % 2 === 0) logger.info("two");
    await handler.flush();
    await listener.detach(`s${i}`);
  }
  const stats = listener.stats();
  assertEquals(stats.senders.length, 1_024);
  assertEquals(stats.senders[0].name, `s${senders - 1_024}`, "the oldest ones went first");
  assertEquals(stats.received, senders + senders / 2);
  assertEquals(stats.dispatched, stats.received);
});
