import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { FileHandler, type LogRecord } from "@std/log";
import {
  BatchFileHandler,
  jsonLinesFormatter,
  QueueListener,
  spawn,
  textFormatter,
  WorkerError,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  readJsonLines,
  readTextLines,
  tempDir,
} from "./_helpers.ts";

Deno.test("spawn: 4 workers x 5,000 records land in one file, complete and in order", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const returned = await spawn<number>(fixture("count_worker.ts"), {
    count: 4,
    args: { records: 5_000 },
    handlers: [jsonFile(file)],
  });
  assertEquals(returned, [5_000, 5_000, 5_000, 5_000]);
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 20_000);
  const perWorker = assertCompleteAndOrdered(lines);
  assertEquals(
    Object.fromEntries(perWorker),
    { "worker-0": 5_000, "worker-1": 5_000, "worker-2": 5_000, "worker-3": 5_000 },
  );
  for (const line of lines) {
    assertEquals(line.msg, `record ${line.seq}`);
    assertEquals(line.args, [{ i: line.seq }]);
    assertEquals(line.level, "INFO");
  }
});

Deno.test("spawn: a logger listed in `loggers` reaches the file at its own level", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("named_loggers_worker.ts"), {
    count: 2,
    handlers: [jsonFile(file, "DEBUG")],
    level: "INFO",
    loggers: { app: { level: "DEBUG" } },
  });
  // What becomes of the unlisted logger is tested in its own file.
  const lines = (await readJsonLines(file)).filter((line) =>
    line.logger !== "unlisted" && line.logger !== "workerlog"
  );
  const seen = lines.map((line) => `${line.worker} ${line.logger} ${line.level} ${line.msg}`)
    .sort();
  assertEquals(seen, [
    "worker-0 app DEBUG from app",
    "worker-0 default INFO from default",
    "worker-1 app DEBUG from app",
    "worker-1 default INFO from default",
  ]);
});

Deno.test("spawn: a record's time is when the worker logged it, not when it was written", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  // A handler that writes each record only once 100 ms have passed since its
  // time: a formatter that took the time of writing would show it.
  class LateFileHandler extends FileHandler {
    override handle(record: LogRecord) {
      const until = record.datetime.getTime() + 100;
      while (Date.now() < until) { /* a slow disk */ }
      super.handle(record);
    }
  }
  const [clock] = await spawn<{ before: number[]; after: number[] }>(
    fixture("stamped_worker.ts"),
    {
      count: 1,
      handlers: [new LateFileHandler("INFO", { filename: file, formatter: jsonLinesFormatter })],
    },
  );
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => line.msg), ["before", "after"]);
  // The worker's clock around each call: the batch arrived at least 30 ms
  // after `to`, and was written at least 100 ms after it.
  for (const [i, [from, to]] of [clock.before, clock.after].entries()) {
    const time = Date.parse(lines[i].time);
    assert(
      from <= time && time <= to,
      `${lines[i].msg}: time ${time} is not within the log call (${from} to ${to})`,
    );
  }
});

Deno.test("spawn: respectHandlerLevel gives a WARN and a DEBUG handler exactly what their levels admit", async () => {
  await using dir = await tempDir();
  const warnFile = dir.file("warn.log");
  const debugFile = dir.file("debug.log");
  await spawn(fixture("levels_worker.ts"), {
    count: 2,
    args: { perLevel: 100 },
    handlers: [
      jsonFile(warnFile, "WARN"),
      jsonFile(debugFile, "DEBUG"),
    ],
  });
  const count = (lines: { level: string }[]) =>
    lines.reduce<Record<string, number>>((counts, { level }) => {
      counts[level] = (counts[level] ?? 0) + 1;
      return counts;
    }, {});
  assertEquals(count(await readJsonLines(warnFile)), { WARN: 200, ERROR: 200, CRITICAL: 200 });
  assertEquals(
    count(await readJsonLines(debugFile)),
    { DEBUG: 200, INFO: 200, WARN: 200, ERROR: 200, CRITICAL: 200 },
  );
});

Deno.test("spawn: respectHandlerLevel false gives every handler every record", async () => {
  await using dir = await tempDir();
  const warnFile = dir.file("warn.log");
  await spawn(fixture("levels_worker.ts"), {
    count: 1,
    args: { perLevel: 10 },
    handlers: [jsonFile(warnFile, "WARN")],
    listenerOptions: { respectHandlerLevel: false },
    level: "DEBUG",
  });
  assertEquals((await readJsonLines(warnFile)).length, 50);
});

Deno.test("spawn: a worker that throws after 1,000 records rejects with WorkerError, and all 1,000 are written", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const error = await assertRejects(
    () =>
      spawn(fixture("throw_worker.ts"), {
        count: 1,
        args: { records: 1_000 },
        handlers: [jsonFile(file)],
      }),
    WorkerError,
    "deliberate failure",
  );
  assertEquals(error.index, 0);
  assertEquals(error.worker, "worker-0");
  assertStringIncludes(error.workerStack ?? "", "throw_worker.ts");
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 1_000);
  assertCompleteAndOrdered(lines);
});

Deno.test("spawn: args that structured clone rejects arrive as readable strings", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const returned = await spawn(fixture("uncloneable_args_worker.ts"), {
    count: 1,
    handlers: [jsonFile(file)],
  });
  assertEquals(returned, ["no exception"]);
  const args = Object.fromEntries((await readJsonLines(file)).map((line) => [line.msg, line.args]));
  assertEquals(args, {
    "function": ["[Function: greet]"],
    "symbol": ["Symbol(token)"],
    "object holding a function": [{ id: 7, callback: "[Function: callback]" }],
    "bigint": ["12345678901234567890n"],
    "circular": [{ name: "loop", self: "[Circular]" }],
  });
});

Deno.test("spawn: the text format shows time, level, worker and logger on one line", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("count_worker.ts"), {
    count: 2,
    args: { records: 50 },
    handlers: [new FileHandler("INFO", { filename: file, formatter: textFormatter })],
  });
  const lines = await readTextLines(file);
  assertEquals(lines.length, 100);
  for (const line of lines) {
    assertEquals(line.level, "INFO");
    assertEquals(line.logger, "default");
    assert(/^worker-[01]$/.test(line.worker));
    assert(/^record \d+ \{"i":\d+\}$/.test(line.rest), line.rest);
  }
});

Deno.test("spawn: with an existing listener, main-thread records and workers' records share the file", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  {
    await using listener = new QueueListener([
      jsonFile(file),
    ]).start();
    const main = listener.handler();
    const { Logger } = await import("@std/log");
    const logger = new Logger("main-logger", "INFO", { handlers: [main] });
    logger.info("before the workers");
    await spawn(fixture("count_worker.ts"), { count: 2, args: { records: 100 }, listener });
    logger.info("after the workers");
    assertEquals(listener.stats().dispatched, 202);
  }
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 202);
  assertEquals(lines[0].msg, "before the workers");
  assertEquals(lines.at(-1)!.msg, "after the workers");
  assertEquals(lines.filter((line) => line.worker === "main").map((line) => line.seq), [0, 1]);
});

Deno.test("spawn: preformat makes workers format; the file holds the same lines", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("count_worker.ts"), {
    count: 3,
    args: { records: 2_000 },
    handlers: [new FileHandler("INFO", { filename: file })],
    preformat: true,
  });
  const lines = await readTextLines(file);
  assertEquals(lines.length, 6_000);
  const seen = lines.map((line) => `${line.worker} ${line.level} ${line.logger}: ${line.rest}`);
  const expected = Array.from(
    { length: 3 },
    (_, w) =>
      Array.from({ length: 2_000 }, (_, i) => `worker-${w} INFO default: record ${i} {"i":${i}}`),
  ).flat();
  assertEquals(seen.sort(), expected.sort(), "every record once, as textFormatter writes it");
});

Deno.test("spawn: preformat uses the worker module's formatter export, and lines still carry worker and seq", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("json_preformat_worker.ts"), {
    count: 2,
    args: { records: 1_500 },
    handlers: [new BatchFileHandler("INFO", { filename: file })],
    preformat: true,
  });
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 3_000);
  assertEquals(Object.fromEntries(assertCompleteAndOrdered(lines)), {
    "worker-0": 1_500,
    "worker-1": 1_500,
  });
  for (const line of lines) assertEquals(line.args, [{ i: line.seq }]);
});

Deno.test("spawn: an error that reaches only the Worker's error event still rejects with WorkerError, after every record is written", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const error = await assertRejects(
    () =>
      spawn(fixture("hostile_error_worker.ts"), {
        count: 1,
        args: { records: 500 },
        handlers: [jsonFile(file)],
      }),
    WorkerError,
  );
  assertEquals([error.index, error.worker], [0, "worker-0"]);
  // What only worker.onerror produces: the event's "Uncaught ..." message
  // and a one-frame summary for a stack, not a stack the worker sent.
  assertStringIncludes(error.message, "Worker 0 (worker-0) failed: Error: Uncaught Error: ");
  assert(
    /^ {4}at file:\/\/\S+\.ts:\d+$/.test(error.workerStack ?? ""),
    `workerStack: ${error.workerStack}`,
  );
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 500);
  assertCompleteAndOrdered(lines);
});
