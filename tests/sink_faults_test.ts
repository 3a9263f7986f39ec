// A sink that fails does not crash the program, is reported once with its
// path and cause, and does not stop the other handlers.
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertStringIncludes,
} from "@std/assert";
import { Logger } from "@std/log";
import {
  BatchFileHandler,
  type HandlerError,
  jsonLinesFormatter,
  LogFileReplacedError,
  QueueListener,
} from "@workerlog/workerlog";
import { fixture, jsonFile, readJsonLines, readLines, tempDir } from "./_helpers.ts";

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
