// BatchFileHandler behind a real listener and on its own: its open modes,
// CRITICAL flush, lines logged while it has no file, a replaced file (and one
// that cannot be created again for a while), and a disk that fills up and
// frees again (a real tmpfs): nothing torn, nothing lost within its limit,
// one report per fault.
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Logger, type LogMode } from "@std/log";
import {
  BatchFileHandler,
  type HandlerError,
  HandlerSetupError,
  InvalidOptionError,
  jsonLinesFormatter,
  LogFileReplacedError,
  QueueHandler,
  QueueListener,
} from "@workerlog/workerlog";
import { LogWriteError } from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  canMountTmpfs,
  CHILD_DEADLINE_MS,
  readJsonLines,
  readLines,
  smallDisk,
  tempDir,
} from "./_helpers.ts";

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 10));

const range = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

function jsonBatchFile(
  filename: string,
  options: { mode?: "a" | "w" | "x"; maxKeptBytes?: number; bufferSize?: number } = {},
) {
  return new BatchFileHandler("INFO", { filename, formatter: jsonLinesFormatter, ...options });
}

/** Logs `count` records "<prefix> <i>" through a main-thread logger and waits a turn. */
async function logSome(listener: QueueListener, prefix: string, count: number) {
  const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
  for (let i = 0; i < count; i++) logger.info(`${prefix} ${i}`);
  await nextTurn();
}

Deno.test("batch file: mode a appends, w truncates, x refuses an existing file", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await Deno.writeTextFile(file, '{"msg":"already there"}\n');
  for (const mode of ["a", "w"] as const) {
    await using listener = new QueueListener([jsonBatchFile(file, { mode })]).start();
    await logSome(listener, mode, 2);
  }
  // "a" added two lines after the old one; "w" then emptied the file first.
  assertEquals((await readJsonLines(file)).map((line) => line.msg), ["w 0", "w 1"]);

  const listener = new QueueListener([jsonBatchFile(file, { mode: "x" })]);
  const error = assertThrowsSetup(() => listener.start());
  assertStringIncludes(error.message, file);
  assertInstanceOf(error.cause, Deno.errors.AlreadyExists);
  assertEquals((await readJsonLines(file)).map((line) => line.msg), ["w 0", "w 1"]);

  const fresh = dir.file("fresh.log");
  {
    await using created = new QueueListener([jsonBatchFile(fresh, { mode: "x" })]).start();
    await logSome(created, "x", 3);
  }
  assertEquals((await readJsonLines(fresh)).map((line) => line.msg), ["x 0", "x 1", "x 2"]);
});

Deno.test("batch file: mode a keeps what the file held", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await Deno.writeTextFile(file, "old line\n");
  {
    await using listener = new QueueListener([jsonBatchFile(file, { mode: "a" })]).start();
    await logSome(listener, "new", 2);
  }
  const lines = await readLines(file);
  assertEquals(lines[0], "old line");
  assertEquals(lines.slice(1).map((line) => JSON.parse(line).msg), ["new 0", "new 1"]);
});

Deno.test("batch file: a mode other than a, w or x is refused before the file is touched", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await Deno.writeTextFile(file, "precious\n");
  for (const mode of ["append", "r", "A", ""]) {
    const error = assertThrows(() => {
      const handler = new BatchFileHandler("INFO", { filename: file, mode: mode as LogMode });
      handler.setup();
      handler.destroy();
    }, InvalidOptionError);
    assertEquals(error.option, "mode");
    assertStringIncludes(error.message, '"x" (create, fail if it exists)');
  }
  assertEquals(await Deno.readTextFile(file), "precious\n");
});

function assertThrowsSetup(start: () => unknown): HandlerSetupError {
  try {
    start();
  } catch (error) {
    assertInstanceOf(error, HandlerSetupError);
    return error;
  }
  throw new Error("start() did not throw");
}

Deno.test("batch file: a CRITICAL record is in the file before the log call returns; others wait for the turn's flush", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([jsonBatchFile(file)]).start();
  const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
  // Read synchronously: an await would let the end-of-turn flush run first.
  const messagesNow = () =>
    Deno.readTextFileSync(file).split("\n").filter((line) => line !== "").map((line) =>
      JSON.parse(line).msg
    );
  logger.info("buffered");
  assertEquals(messagesNow(), [], "an INFO record waits in the buffer");
  logger.critical("at once");
  assertEquals(messagesNow(), ["buffered", "at once"]);
  logger.error("buffered again");
  assertEquals(messagesNow(), ["buffered", "at once"], "ERROR is not flushed at once");
  await nextTurn();
  assertEquals(
    messagesNow(),
    ["buffered", "at once", "buffered again"],
    "flushed at the turn's end",
  );
});

Deno.test("batch file: another file put in its place is reported as replaced, and logging goes on there", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const reports: HandlerError[] = [];
  {
    await using listener = new QueueListener([jsonBatchFile(file)], {
      onError: (error) => reports.push(error),
    }).start();
    await logSome(listener, "before", 10);
    await Deno.rename(file, dir.file("out.log.1"));
    await Deno.writeTextFile(file, "");
    await logSome(listener, "after", 10);
  }
  assertEquals(reports.length, 1);
  const cause = reports[0].cause;
  assertInstanceOf(cause, LogFileReplacedError);
  assertStringIncludes(cause.message, "replaced by another file");
  assertEquals(
    (await readJsonLines(dir.file("out.log.1"))).map((line) => line.msg),
    Array.from({ length: 10 }, (_, i) => `before ${i}`),
  );
  assertEquals(
    (await readJsonLines(file)).map((line) => line.msg),
    Array.from({ length: 10 }, (_, i) => `after ${i}`),
  );
});

Deno.test("batch file: lines logged before setup() or after destroy() are dropped and counted, and the call returns", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const module = new URL("../sinks/batch_file_handler.ts", import.meta.url).href;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const options = JSON.stringify({ filename: file, bufferSize: 64 });
  // In a child: a log call that never returns would hang the test runner.
  const script = `
    import { BatchFileHandler } from ${JSON.stringify(module)};
    const handler = new BatchFileHandler("INFO", ${options});
    for (let i = 0; i < 10; i++) handler.log("before setup " + i);
    handler.setup();
    handler.log("written");
    handler.destroy();
    for (let i = 0; i < 20; i++) handler.log("after destroy " + i); // 5 buffers' worth
    handler.writeLines("x".repeat(100) + "\\ny\\n");
    handler.flush();
    console.log(handler.droppedLines);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-write", `--config=${config}`, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, signal, stdout, stderr } = await child.output();
  const hung = signal === null ? "" : ` by ${signal}: a log call did not return`;
  assertEquals(code, 0, `the child ended${hung}: ${new TextDecoder().decode(stderr)}`);
  assertEquals(new TextDecoder().decode(stdout).trim(), String(10 + 20 + 2));
  assertEquals(await readLines(file), ["written"]);
});

Deno.test("batch file: when the file cannot be created again, it is reported once and retried, and what was logged meanwhile is written", async () => {
  await using dir = await tempDir();
  const logs = dir.file("logs");
  const file = `${logs}/app.log`;
  const handler = new BatchFileHandler("INFO", { filename: file, bufferSize: 64 });
  handler.setup();
  try {
    handler.log("before");
    handler.flush();
    // A regular file where the directory was: the log file cannot be created again.
    await Deno.remove(logs, { recursive: true });
    await Deno.writeTextFile(logs, "");
    for (const line of range("kept", 5)) handler.log(line);
    const error = assertThrows(() => handler.flush(), LogWriteError);
    assertStringIncludes(error.message, file);
    for (const line of range("still kept", 5)) handler.log(line); // past the buffer's 64 bytes
    handler.flush(); // fails again, silently: the fault is reported
    await Deno.remove(logs);
    await Deno.mkdir(logs);
    assertThrows(() => handler.flush(), LogFileReplacedError, "created again");
    handler.log("after");
    handler.flush();
  } finally {
    handler.destroy();
  }
  assertEquals(await readLines(file), [...range("kept", 5), ...range("still kept", 5), "after"]);
  assertEquals(handler.droppedLines, 0);
});

const mountable = await canMountTmpfs();

/**
 * A same-thread sender that formats its own records (preformat), so the
 * listener hands BatchFileHandler whole batches of lines.
 */
function batchSender(listener: QueueListener) {
  const handler = new QueueHandler("INFO", {
    connection: listener.connect({ name: "app" }),
    preformat: true,
    formatter: jsonLinesFormatter,
    batchSize: 64,
  });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  return {
    async log(prefix: string, count: number) {
      for (let i = 0; i < count; i++) logger.info(`${prefix} ${i}`);
      await handler.flush(); // the listener has handed them over and flushed
    },
  };
}

Deno.test({
  name: "batch file: on a full disk nothing is torn or lost, and each fault is reported once",
  ignore: !mountable,
  async fn() {
    await using disk = await smallDisk(256);
    const file = `${disk.path}/app.log`;
    const reports: HandlerError[] = [];
    const sink = jsonBatchFile(file);
    await using listener = new QueueListener([sink], { onError: (error) => reports.push(error) })
      .start();
    const sender = batchSender(listener);
    await sender.log("space", 100);

    disk.fill();
    await sender.log("full", 1_000);
    assertEquals(reports.length, 1, "one report when writes start failing");
    assertInstanceOf(reports[0].cause, LogWriteError);
    assertStringIncludes(reports[0].message, "No space left on device");
    assertStringIncludes(reports[0].message, file);
    assert(
      !(await Deno.readTextFile(file)).endsWith("\n"),
      "the disk took part of a line (a short write): the case this test is about",
    );
    await sender.log("still full", 500);
    assertEquals(reports.length, 1, "no second report while writes keep failing");

    await Deno.remove(`${disk.path}/filler`);
    await sender.log("freed", 100);
    assertEquals((await readJsonLines(file)).length, 1_700, "what was kept is written first");

    disk.fill();
    await sender.log("full again", 300);
    assertEquals(reports.length, 2, "a new fault after a success is reported again");
    await Deno.remove(`${disk.path}/filler`);
    await sender.log("freed again", 100);
    await listener.stop();

    const lines = await readJsonLines(file);
    assertEquals(lines.map((line) => line.msg), [
      ...range("space", 100),
      ...range("full", 1_000),
      ...range("still full", 500),
      ...range("freed", 100),
      ...range("full again", 300),
      ...range("freed again", 100),
    ]);
    assertCompleteAndOrdered(lines);
    assertEquals(sink.droppedLines, 0);
    assertEquals(reports.length, 2);
  },
});

Deno.test({
  name: "batch file: past maxKeptBytes on a full disk, whole lines are dropped and counted",
  ignore: !mountable,
  async fn() {
    await using disk = await smallDisk(256);
    const file = `${disk.path}/app.log`;
    const reports: HandlerError[] = [];
    const sink = jsonBatchFile(file, { maxKeptBytes: 8_192, bufferSize: 4_096 });
    await using listener = new QueueListener([sink], { onError: (error) => reports.push(error) })
      .start();
    const sender = batchSender(listener);
    await sender.log("space", 100);
    disk.fill();
    await sender.log("full", 2_000);
    await Deno.remove(`${disk.path}/filler`);
    await sender.log("freed", 100);
    await listener.stop();

    const lines = await readJsonLines(file); // every line parses: none is torn
    const messages = lines.map((line) => line.msg);
    const kept = messages.filter((msg) => msg.startsWith("full "));
    assertEquals(messages, [...range("space", 100), ...kept, ...range("freed", 100)]);
    assertEquals(kept, range("full", kept.length), "what was kept is the oldest, in order");
    assertGreater(kept.length, 0);
    assertEquals(sink.droppedLines, 2_000 - kept.length, "every line not written is counted");
    const keptBytes = lines
      .filter((line) => line.msg.startsWith("full "))
      .reduce((sum, line) => sum + new TextEncoder().encode(JSON.stringify(line)).length + 1, 0);
    // The limit, plus a buffer, a batch and what the disk took before it was full.
    assert(keptBytes > 8_192 && keptBytes < 8_192 + 3 * 8_192, `${keptBytes} bytes were kept`);
    assertEquals(reports.length, 1);
  },
});
