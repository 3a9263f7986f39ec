// Bad input fails early, with an error that names the problem and the fix,
// and nothing already logged is lost.
import {
  assert,
  assertEquals,
  assertFalse,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { FileHandler, type LevelName, Logger } from "@std/log";
import {
  BatchFileHandler,
  HandlerSetupError,
  InvalidOptionError,
  ModuleNotFoundError,
  QueueHandler,
  QueueListener,
  spawn,
  WorkerError,
} from "@workerlog/workerlog";
import { fixture, jsonFile, readJsonLines, tempDir } from "./_helpers.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("errors: a missing worker module fails before the listener or any worker starts", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const error = await assertRejects(
    () =>
      spawn(fixture("no_such_worker.ts"), {
        count: 2,
        handlers: [new FileHandler("INFO", { filename: file })],
      }),
    ModuleNotFoundError,
  );
  assertStringIncludes(error.message, "no_such_worker.ts");
  assertStringIncludes(error.message, 'new URL("./worker.ts", import.meta.url)');
  assertFalse(await exists(file), "the listener was never started, so no file was opened");
});

Deno.test("errors: a relative module path is taken from the current directory", async () => {
  const error = await assertRejects(
    () => spawn("./no/such/worker.ts", { count: 1, handlers: [] }),
    ModuleNotFoundError,
  );
  assertEquals(error.url, new URL("./no/such/worker.ts", `file://${Deno.cwd()}/`).href);
  // "#" and "?" are part of a file name, not a fragment or a query.
  for (const name of ["./no/such/worker#1.ts", "./no/such/worker?a.ts"]) {
    const named = await assertRejects(
      () => spawn(name, { count: 1, handlers: [] }),
      ModuleNotFoundError,
    );
    assertEquals(decodeURIComponent(new URL(named.url).pathname), `${Deno.cwd()}/${name.slice(2)}`);
  }
});

Deno.test("errors: a log file whose directory does not exist fails with the path and the fix", async () => {
  await using dir = await tempDir();
  const file = dir.file("missing-dir/out.log");
  const error = await assertRejects(
    () =>
      spawn(fixture("count_worker.ts"), {
        count: 1,
        args: { records: 1 },
        handlers: [new FileHandler("INFO", { filename: file })],
      }),
    HandlerSetupError,
  );
  assertStringIncludes(error.message, file);
  assertStringIncludes(error.message, "directory exists and is writable");
});

Deno.test("errors: a BatchFileHandler directory that cannot be created fails with the path", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(dir.file("a-file"), "not a directory");
  const file = dir.file("a-file/logs/out.log");
  const earlier = new FileHandler("INFO", { filename: dir.file("earlier.log") });
  const listener = new QueueListener([earlier, new BatchFileHandler("INFO", { filename: file })]);
  const error = assertThrows(() => listener.start(), HandlerSetupError);
  assertStringIncludes(error.message, "BatchFileHandler (");
  assertStringIncludes(error.message, file);
  assertThrows(() => listener.connect(), Error, "before start()");
});

Deno.test("errors: an unknown level name lists the valid ones", async () => {
  const valid = "NOTSET, DEBUG, INFO, WARN, ERROR, CRITICAL";
  const bad = "VERBOSE" as LevelName;
  const error = await assertRejects(
    () => spawn(fixture("count_worker.ts"), { count: 1, handlers: [], level: bad }),
    InvalidOptionError,
  );
  assertEquals(error.message, `Invalid option level: "VERBOSE". Expected one of ${valid}.`);
  await assertRejects(
    () =>
      spawn(fixture("count_worker.ts"), {
        count: 1,
        handlers: [],
        loggers: { app: { level: "LOUD" as LevelName } },
      }),
    InvalidOptionError,
    `Invalid option loggers.app.level: "LOUD". Expected one of ${valid}.`,
  );
});

Deno.test("errors: count must be a whole number of at least 1", async () => {
  for (const count of [0, -1, 2.5, NaN, "4" as unknown as number]) {
    await assertRejects(
      () => spawn(fixture("count_worker.ts"), { count, handlers: [] }),
      InvalidOptionError,
      "Expected a whole number of at least 1",
    );
  }
});

Deno.test("errors: a run's name, signal and batchSize are checked before anything starts", async () => {
  const bad: [Record<string, unknown>, string, string][] = [
    [{ name: "x".repeat(300) }, "name", "1 to 256 characters"],
    [{ name: "two\nlines", processes: { permissions: [] } }, "name", "no control characters"],
    [{ name: "run#1" }, "name", 'without "#"'],
    [{ signal: {} }, "signal", "an AbortSignal"],
    [{ batchSize: 2 ** 32 }, "batchSize", "a whole number from 1 to 65536"],
    [{ batchSize: 0 }, "batchSize", "a whole number from 1 to 65536"],
  ];
  for (const [options, option, expected] of bad) {
    const error = await assertRejects(
      () => spawn(fixture("count_worker.ts"), { count: 2, handlers: [], ...options }),
      InvalidOptionError,
      expected,
    );
    assertEquals(error.option, option);
  }
});

Deno.test("errors: handlers and listener: exactly one of them", async () => {
  await assertRejects(
    () => spawn(fixture("count_worker.ts"), { count: 1 }),
    InvalidOptionError,
    "exactly one of them",
  );
  await using listener = new QueueListener([]).start();
  await assertRejects(
    () => spawn(fixture("count_worker.ts"), { count: 1, handlers: [], listener }),
    InvalidOptionError,
    "exactly one of them",
  );
});

Deno.test("errors: args that cannot be sent to workers are refused up front", async () => {
  await assertRejects(
    () => spawn(fixture("count_worker.ts"), { count: 1, handlers: [], args: { fn: () => 1 } }),
    InvalidOptionError,
    "Invalid option args",
  );
});

Deno.test("errors: a module without a default export function names the fix", async () => {
  const error = await assertRejects(
    () => spawn(fixture("no_default_worker.ts"), { count: 2, handlers: [] }),
    WorkerError,
  );
  assertStringIncludes(error.message, "has no default export function");
  assertStringIncludes(error.message, "export default async function");
});

Deno.test("errors: a module that fails to load is reported as a WorkerError", async () => {
  const error = await assertRejects(
    () => spawn(fixture("broken_import_worker.ts"), { count: 1, handlers: [] }),
    WorkerError,
    "Could not load worker module",
  );
  assertStringIncludes(error.message, "broken_import_worker.ts");
});

Deno.test("errors: bad listener and handler options", () => {
  assertThrows(
    () => new QueueListener("app.log" as never),
    InvalidOptionError,
    "an array of @std/log handlers",
  );
  assertThrows(() => new QueueListener([], { maxInFlight: 0 }), InvalidOptionError, "maxInFlight");
  assertThrows(
    () => new QueueListener([], { overflow: "wait" as never }),
    InvalidOptionError,
    '"block" or "drop"',
  );
  assertThrows(
    () =>
      new QueueHandler("INFO", {
        connection: { port: { postMessage() {} }, name: "x" },
        batchSize: 0,
      }),
    InvalidOptionError,
    "batchSize",
  );
  assertThrows(
    () => new BatchFileHandler("INFO", { filename: "" }),
    InvalidOptionError,
    "filename",
  );
});

Deno.test("errors: a bad spawn() on a live listener loses nothing the listener already has", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  {
    await using listener = new QueueListener([
      jsonFile(file),
    ]).start();
    const logger = new Logger("main", "INFO", { handlers: [listener.handler()] });
    logger.info("kept 1");
    await assertRejects(
      () => spawn(fixture("count_worker.ts"), { count: 0, listener }),
      InvalidOptionError,
    );
    await assertRejects(
      () => spawn(fixture("missing.ts"), { count: 1, listener }),
      ModuleNotFoundError,
    );
    logger.info("kept 2");
  }
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => line.msg), ["kept 1", "kept 2"]);
  assert(lines.every((line) => line.worker === "main"));
});
