// WriterListener: the writing in a writer worker of its own. Real workers,
// a real writer worker, real files, and a real signal to a real process.
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import * as log from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  HandlerError,
  HandlerModuleError,
  HandlerSetupError,
  InvalidOptionError,
  ListenerStateError,
  MAIN_THREAD_SENDER,
  spawn,
  WriterListener,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  type JsonLine,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const WORKERS = 4;
const RECORDS = 2_000;

function writerFor(filename: string, options: Record<string, unknown> = {}) {
  return new WriterListener(fixture("writer_handlers.ts"), { args: { filename }, ...options });
}

/** Every worker's records are "record <seq>" with the arg { i: seq }. */
function assertCountRecords(lines: JsonLine[]) {
  for (const line of lines) {
    assertEquals(line.msg, `record ${line.seq}`, `${line.worker}: wrong text at seq ${line.seq}`);
    assertEquals(line.args, [{ i: line.seq }], `${line.worker}: wrong args at seq ${line.seq}`);
  }
}

Deno.test("writer: spawn({ writer }) writes every record of 4 workers, complete and in order", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const results = await spawn<number>(fixture("count_worker.ts"), {
    count: WORKERS,
    args: { records: RECORDS, yieldEvery: 700 },
    writer: fixture("writer_handlers.ts"),
    listenerOptions: { args: { filename: file } },
  });
  assertEquals(results, Array(WORKERS).fill(RECORDS));
  const lines = await readJsonLines(file);
  assertEquals(lines.length, WORKERS * RECORDS);
  assertCountRecords(lines);
  const counts = assertCompleteAndOrdered(lines);
  assertEquals(
    [...counts.entries()].sort(),
    Array.from({ length: WORKERS }, (_, i) => [`worker-${i}`, RECORDS]),
  );
});

Deno.test("writer: a shared WriterListener counts every sender in stats(), the main thread's handler() too", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using writer = await writerFor(file).start();
  const gate = writer.handler("INFO");
  log.setup({
    handlers: { writer: gate },
    loggers: { default: { level: "DEBUG", handlers: ["writer"] } },
  });
  try {
    for (let i = 0; i < 1_000; i++) log.info(`record ${i}`, { i });
    log.debug("below the handler's level: not sent");
    const results = await spawn<number>(fixture("count_worker.ts"), {
      count: WORKERS,
      args: { records: RECORDS },
      listener: writer,
    });
    assertEquals(results, Array(WORKERS).fill(RECORDS));
    await (gate as unknown as { flush(): Promise<void> }).flush();
    // flush() resolved: the main thread's records are in the file now.
    const lines = await readJsonLines(file);
    assertCountRecords(lines);
    const counts = assertCompleteAndOrdered(lines);
    assertEquals(counts.get(MAIN_THREAD_SENDER), 1_000);
    assertEquals(lines.length, WORKERS * RECORDS + 1_000);

    const stats = await writer.stats();
    assertEquals(stats.received, WORKERS * RECORDS + 1_000);
    assertEquals(stats.dispatched, stats.received);
    assertEquals([stats.dropped, stats.rejected, stats.handlerErrors], [0, 0, 0]);
    const byName = new Map(stats.senders.map((sender) => [sender.name, sender]));
    assertEquals(byName.get(MAIN_THREAD_SENDER)?.dispatched, 1_000);
    for (let i = 0; i < WORKERS; i++) {
      assertEquals(byName.get(`worker-${i}`)?.dispatched, RECORDS, `worker-${i}`);
      assertEquals(byName.get(`worker-${i}`)?.index, i);
    }
    // The run is over: its names are free again for the next run.
    assert(writer.isNameFree("worker-0"));
  } finally {
    log.setup({ handlers: {}, loggers: {} });
  }
});

Deno.test("writer: stop() writes what senders had posted, a hand-made worker's and the main thread's", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const writer = await writerFor(file).start();
  const worker = new Worker(fixture("hand_made_worker.ts"), { type: "module" });
  try {
    const name = await writer.attach(worker, { name: "by-hand" });
    assertEquals(name, "by-hand");
    assert(!writer.isNameFree("by-hand"));
    const done = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage({ records: 3_000 });
    await done;
    // Logged and not flushed: only stop() makes sure these reach the file.
    const main = writer.handler();
    for (let i = 0; i < 2_000; i++) {
      main.handle(
        new LogRecord({ msg: `record ${i}`, args: [{ i }], level: 20, loggerName: "m" }),
      );
    }
    await writer.stop();
    await writer.stop(); // idempotent
  } finally {
    worker.terminate();
    await writer.stop();
  }
  const lines = await readJsonLines(file);
  const counts = assertCompleteAndOrdered(lines);
  assertEquals(counts.get("by-hand"), 3_000);
  assertEquals(counts.get(MAIN_THREAD_SENDER), 2_000);
  assertCountRecords(lines.filter((line) => line.worker === MAIN_THREAD_SENDER));
  assertThrows(() => writer.connect(), ListenerStateError, "stopped");
});

Deno.test("writer: a handler's failure reaches onError on the main thread; the other handler gets every record", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const errors: HandlerError[] = [];
  await using writer = await new WriterListener(fixture("writer_failing_handler.ts"), {
    args: { filename: file },
    onError: (error) => errors.push(error),
  }).start();
  const main = writer.handler();
  for (let i = 0; i < 10; i++) {
    const msg = i % 2 === 0 ? `record ${i}` : `record ${i} fail`;
    main.handle(new LogRecord({ msg, args: [], level: 20, loggerName: "app" }));
  }
  await (main as unknown as { flush(): Promise<void> }).flush();
  await waitFor("the writer's error report", () => errors.length > 0);
  const [error] = errors;
  assert(error instanceof HandlerError, `not a HandlerError: ${error}`);
  assertStringIncludes(error.handler, "Picky");
  assertStringIncludes(error.message, `refused "record 1 fail"`);
  assertEquals((error.cause as Error).message, `refused "record 1 fail"`);
  // Once per handler and kind of failure; each failing record is counted.
  assertEquals((await writer.stats()).handlerErrors, 5);
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => line.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("writer: a handlers module that cannot be used fails start() and spawn() with a clear error, before any worker starts", async (t) => {
  await using dir = await tempDir();
  const cases: [string, string, Record<string, unknown>, string][] = [
    [
      "its function throws",
      "writer_bad_modules.ts",
      { kind: "throws" },
      "the config has no log section",
    ],
    [
      "it returns no handlers",
      "writer_bad_modules.ts",
      { kind: "not-handlers" },
      "Invalid option handlers",
    ],
    ["it exports no function", "writer_no_function.ts", {}, "it has no handlers function"],
    ["it does not load", "writer_broken_import.ts", {}, "this_module_does_not_exist.ts"],
    ["it is not there", "writer_missing.ts", {}, "writer_missing.ts"],
  ];
  for (const [what, module, args, says] of cases) {
    await t.step(what, async () => {
      const error = await assertRejects(
        () => new WriterListener(fixture(module), { args }).start(),
        HandlerModuleError,
      );
      assertStringIncludes(error.message, says);
      assertStringIncludes(error.message, fixture(module).href);
      assertEquals(error.url, fixture(module).href);

      const marker = dir.file(`started-${module}-${args.kind}`);
      await assertRejects(
        () =>
          spawn(fixture("writer_marker_worker.ts"), {
            count: 2,
            args: { marker },
            writer: fixture(module),
            listenerOptions: { args },
          }),
        HandlerModuleError,
        says,
      );
      assert(!(await Deno.stat(marker).then(() => true, () => false)), "a worker started");
    });
  }

  await t.step("a handler's setup() fails: HandlerSetupError naming the file", async () => {
    const filename = dir.file("no/such/dir/app.log");
    const marker = dir.file("started-setup");
    const error = await assertRejects(
      () =>
        spawn(fixture("writer_marker_worker.ts"), {
          count: 2,
          args: { marker },
          writer: fixture("writer_bad_modules.ts"),
          listenerOptions: { args: { kind: "unwritable", filename } },
        }),
      HandlerSetupError,
    );
    assertStringIncludes(error.message, `Could not set up FileHandler (${filename})`);
    assert(!(await Deno.stat(marker).then(() => true, () => false)), "a worker started");
  });
});

Deno.test("writer: bad options and states get clear errors", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const module = fixture("count_worker.ts");
  const handlers = fixture("writer_handlers.ts");
  const badArgs = { filename: file, write: () => {} };
  const error = (() => {
    try {
      new WriterListener(handlers, { args: badArgs });
    } catch (error) {
      return error;
    }
  })();
  assert(error instanceof InvalidOptionError && error.option === "args", `${error}`);
  assertEquals(
    (() => {
      try {
        new WriterListener(handlers, { maxInFlight: 0 });
      } catch (error) {
        return (error as InvalidOptionError).option;
      }
    })(),
    "maxInFlight",
  );
  await assertRejects(
    () => spawn(module, { count: 1, handlers: [], writer: handlers }),
    InvalidOptionError,
    "handlers/writer/listener",
  );
  await assertRejects(
    () => spawn(module, { count: 1, handlers: [], listenerOptions: { args: {} } }),
    InvalidOptionError,
    "listenerOptions.args",
  );
  const unstarted = writerFor(file);
  assertThrows(() => unstarted.connect(), ListenerStateError, "await listener.start()");
  await assertRejects(
    () => spawn(module, { count: 1, listener: unstarted }),
    ListenerStateError,
    "await listener.start()",
  );
  await unstarted.stop();

  await using writer = await writerFor(file).start();
  assertEquals(await writer.start(), writer); // the same start
  const first = await writer.connect({ name: "taken" });
  assertEquals(first.name, "taken");
  assertThrows(() => writer.connect({ name: "taken" }), InvalidOptionError, '"taken"');
  assertThrows(() => writer.connect({ name: MAIN_THREAD_SENDER }), InvalidOptionError);
  (first.port as MessagePort).close();
  await writer.detach("taken");
  assert(writer.isNameFree("taken"));
});

Deno.test("writer: SIGTERM drains the writer and exits with 143, every record logged before it in the file", async () => {
  await using dir = await tempDir();
  const [file, progressFile] = [dir.file("out.log"), dir.file("progress.json")];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture("writer_signal_main.ts").pathname, file, progressFile],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    await waitFor(
      "every worker to have logged 20 records",
      () => Deno.stat(`${progressFile}.ready`).then(() => true, () => false),
      20_000,
    );
  } finally {
    child.kill("SIGTERM");
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) =>
    timer = setTimeout(resolve, 15_000, "timeout")
  );
  const status = await Promise.race([output, deadline]);
  clearTimeout(timer);
  if (status === "timeout") {
    child.kill("SIGKILL");
    await output;
    throw new Error("the program did not exit within 15 s of SIGTERM");
  }
  const stderr = new TextDecoder().decode(status.stderr);
  assertEquals(status.code, 143, `exit code; stderr: ${stderr}`);
  const progress = JSON.parse(await Deno.readTextFile(progressFile)) as number[];
  const lines = await readJsonLines(file);
  for (const line of lines) assertEquals(line.msg, `record ${line.seq}`);
  const counts = assertCompleteAndOrdered(lines);
  assertEquals(counts.get(MAIN_THREAD_SENDER), 100);
  progress.forEach((logged, i) => {
    assert(logged >= 0, `worker-${i} had logged nothing when the signal came`);
    const written = counts.get(`worker-${i}`) ?? 0;
    assert(written > logged, `worker-${i}: logged up to seq ${logged}, ${written} written`);
  });
});
