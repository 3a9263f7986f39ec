// The listener in front of handlers other than FileHandler, as README
// promises: RotatingFileHandler, ConsoleHandler, handlers at different
// levels taking preformatted batches; and detach() called directly. Also
// (at the end): the fast path that hands a plain FileHandler a batch's lines
// in one log() call.
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { FileHandler, Logger, type LogRecord, RotatingFileHandler } from "@std/log";
import {
  BatchFileHandler,
  jsonLinesFormatter,
  ProcessHandler,
  QueueHandler,
  QueueListener,
  spawn,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  type JsonLine,
  readJsonLines,
  readLines,
  readTextLines,
  tempDir,
  within,
} from "./_helpers.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
const byteLength = (line: string) => new TextEncoder().encode(line).length + 1;

Deno.test("behind a listener: RotatingFileHandler rotates at maxBytes, and the files together hold every record", async () => {
  await using dir = await tempDir();
  const file = dir.file("app.log");
  const maxBytes = 16_384;
  await spawn(fixture("count_worker.ts"), {
    count: 2,
    args: { records: 1_000, yieldEvery: 100 },
    handlers: [
      new RotatingFileHandler("INFO", {
        filename: file,
        maxBytes,
        maxBackupCount: 50,
        formatter: jsonLinesFormatter,
      }),
    ],
  });
  // Oldest first: app.log.N, ..., app.log.1, app.log.
  let backups = 0;
  while (backups < 100 && await exists(`${file}.${backups + 1}`)) backups++;
  assert(backups > 1 && backups < 50, `${backups} rotated files`);
  const files = [...Array.from({ length: backups }, (_, i) => `${file}.${backups - i}`), file];
  const contents = await Promise.all(files.map(readLines));
  for (const [i, lines] of contents.entries()) {
    const size = lines.reduce((sum, line) => sum + byteLength(line), 0);
    assertEquals(size, (await Deno.stat(files[i])).size);
    assertLessOrEqual(size, maxBytes, `${files[i]} is larger than maxBytes`);
    if (i + 1 < contents.length) {
      assert(
        size + byteLength(contents[i + 1][0]) > maxBytes,
        `${files[i]} was rotated although the next line fitted`,
      );
    }
  }
  const all: JsonLine[] = contents.flat().map((line) => JSON.parse(line));
  assertEquals(all.length, 2_000);
  assertEquals(Object.fromEntries(assertCompleteAndOrdered(all)), {
    "worker-0": 1_000,
    "worker-1": 1_000,
  });
});

Deno.test("behind a listener: ConsoleHandler prints every record of a program's workers and main thread", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture("console_main.ts").pathname, "500"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  await using dir = await tempDir();
  await Deno.writeFile(dir.file("stdout"), stdout);
  const lines = await readTextLines(dir.file("stdout"));
  assertEquals(lines.length, 1_002);
  assertEquals(lines[0].rest, "before the workers");
  assertEquals([lines.at(-1)!.level, lines.at(-1)!.rest], ["WARN", "after the workers"]);
  for (const worker of ["worker-0", "worker-1"]) {
    const mine = lines.filter((line) => line.worker === worker);
    assertEquals(
      mine.map((line) => line.rest),
      Array.from({ length: 500 }, (_, i) => `record ${i} {"i":${i}}`),
      `${worker}'s records, in order`,
    );
  }
});

Deno.test("behind a listener: preformatted batches reach handlers at three levels with exactly what each admits", async () => {
  await using dir = await tempDir();
  const debugFile = dir.file("debug.log");
  const warnFile = dir.file("warn.log");
  const errorFile = dir.file("error.log");
  await spawn(fixture("levels_worker.ts"), {
    count: 2,
    args: { perLevel: 300 },
    handlers: [
      new BatchFileHandler("DEBUG", { filename: debugFile }), // whole batches
      new BatchFileHandler("WARN", { filename: warnFile }), // batches filtered line by line
      new FileHandler("ERROR", { filename: errorFile }), // no writeLines(): log() per line
    ],
    preformat: true,
  });
  const levelsIn = async (file: string) => {
    const counts: Record<string, number> = {};
    for (const line of await readTextLines(file)) {
      counts[line.level] = (counts[line.level] ?? 0) + 1;
      const expected = `${line.level.toLowerCase()} `;
      assert(line.rest.startsWith(expected), `a ${line.level} line says "${line.rest}"`);
    }
    return counts;
  };
  assertEquals(await levelsIn(debugFile), {
    DEBUG: 600,
    INFO: 600,
    WARN: 600,
    ERROR: 600,
    CRITICAL: 600,
  });
  assertEquals(await levelsIn(warnFile), { WARN: 600, ERROR: 600, CRITICAL: 600 });
  assertEquals(await levelsIn(errorFile), { ERROR: 600, CRITICAL: 600 });
  // Per worker and file, the lines are in the order they were logged.
  for (const file of [debugFile, warnFile, errorFile]) {
    const lines = await readTextLines(file);
    for (const worker of ["worker-0", "worker-1"]) {
      const numbers = lines.filter((line) => line.worker === worker && line.level === "CRITICAL")
        .map((line) => Number(line.rest.split(" ")[1]));
      assertEquals(numbers, Array.from({ length: 300 }, (_, i) => i), `${file}, ${worker}`);
    }
  }
});

Deno.test("behind a listener: detach(name) writes what the sender sent before and rejects what it sends after", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([jsonFile(file)]).start();
  try {
    const handler = new QueueHandler("INFO", { connection: listener.connect({ name: "job" }) });
    const logger = new Logger("app", "INFO", { handlers: [handler] });
    for (let i = 0; i < 300; i++) logger.info(`before ${i}`);
    handler.destroy(); // posts the batch; detach() must still write it
    await listener.detach("job");
    const atDetach = listener.stats().senders.find((sender) => sender.name === "job")!;
    assertEquals(atDetach.dispatched, 300, "handed to the handlers before detach() resolved");
    for (let i = 0; i < 200; i++) logger.info(`after ${i}`);
    handler.destroy();
    const main = new Logger("main", "INFO", { handlers: [listener.handler()] });
    main.info("the listener itself goes on");
    await listener.detach("job"); // a second detach is harmless
    await listener.detach("nobody"); // and so is one of a name it does not know
  } finally {
    await listener.stop();
  }
  const stats = listener.stats();
  const job = stats.senders.find((sender) => sender.name === "job")!;
  assertEquals(
    [job.received, job.dispatched, job.rejected, job.dropped],
    [300, 300, 200, 0],
  );
  assertEquals(job.dispatched + job.rejected, 500, "written + rejected = logged");
  assertEquals([stats.dispatched, stats.rejected], [301, 200]);
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => line.msg), [
    ...Array.from({ length: 300 }, (_, i) => `before ${i}`),
    "the listener itself goes on",
  ]);
  assertCompleteAndOrdered(lines);
});

// The listener hands a plain FileHandler a batch's lines in one log() call.
// The file must come out byte for byte as when the handler takes the records
// one by one: the same level checks, the same formatting, the same bytes.

const formatter = (record: LogRecord) =>
  `${record.levelName} ${record.loggerName} ${record.msg} ${JSON.stringify(record.args)}`;

/** A FileHandler that takes records one by one: its own log() opts out of the fast path. */
class OneByOne extends FileHandler {
  override log(msg: string): void {
    super.log(msg);
  }
}

Deno.test("fast path: a plain FileHandler writes the same bytes as one that takes records one by one", async () => {
  await using dir = await tempDir();
  const fast = new FileHandler("WARN", { filename: dir.file("fast.log"), formatter });
  const slow = new OneByOne("WARN", { filename: dir.file("slow.log"), formatter });
  const listener = new QueueListener([fast, slow]).start();
  let logCalls = 0;
  const log = fast.log.bind(fast);
  fast.log = (msg: string) => {
    logCalls++;
    log(msg);
  };
  const handler = new QueueHandler("NOTSET", { connection: listener.connect({ name: "job" }) });
  const logger = new Logger("app", "DEBUG", { handlers: [handler] });
  const levels = ["debug", "info", "warn", "error", "critical"] as const;
  let records = 0;
  for (let i = 0; i < 5_000; i++) {
    const level = levels[i % levels.length];
    const text = i % 997 === 0 ? "é€😀".repeat(2_000) : `record ${i}`; // some pass 4 KiB
    logger[level](`${text} ${i}`, { i, odd: i % 2 === 1 });
    if (level === "warn" || level === "error" || level === "critical") records++;
    if (i % 700 === 0) await handler.flush();
  }
  await handler.flush();
  await listener.stop();
  const fastBytes = await Deno.readFile(dir.file("fast.log"));
  const slowBytes = await Deno.readFile(dir.file("slow.log"));
  assertEquals(fastBytes.length, slowBytes.length);
  assertEquals(fastBytes, slowBytes);
  const lines = new TextDecoder().decode(fastBytes).split("\n");
  assertEquals(lines.pop(), "");
  assertEquals(lines.length, records);
  assert(lines.every((line) => /^(WARN|ERROR|CRITICAL) app /.test(line)));
  assert(logCalls < records / 20, `${logCalls} log() calls for ${records} records: not batched`);
});

Deno.test("behind a listener: a preformatted line with a line break inside stays one line, from a thread and from a socket", async () => {
  await using dir = await tempDir();
  const file = new FileHandler("INFO", { filename: dir.file("out.log") });
  await using listener = new QueueListener([file]).start();
  const { address, token } = await listener.listen({ path: dir.file("log.sock") });
  const twoLines = (record: LogRecord) => `${record.levelName} ${record.msg}\nsecond line`;
  const thread = new QueueHandler("NOTSET", {
    connection: listener.connect({ name: "thread" }),
    preformat: true,
    formatter: twoLines,
  });
  await using socket = new ProcessHandler("NOTSET", {
    address,
    token,
    name: "socket",
    preformat: true,
    formatter: twoLines,
  });
  for (const [handler, name] of [[thread, "thread"], [socket, "socket"]] as const) {
    const logger = new Logger(name, "INFO", { handlers: [handler] });
    for (let i = 0; i < 100; i++) logger.info(`${name} ${i}`);
    await within(handler.flush(), 10_000, `${name}'s flush()`);
  }
  await listener.stop();
  const lines = await readLines(dir.file("out.log"));
  assertEquals(lines, [
    ...Array.from({ length: 100 }, (_, i) => `INFO thread ${i}\\nsecond line`),
    ...Array.from({ length: 100 }, (_, i) => `INFO socket ${i}\\nsecond line`),
  ]);
  assertEquals(listener.stats().peers?.refusedBy.malformed, 0);
});

Deno.test("fast path: preformatted lines reach a plain FileHandler whole and in order", async () => {
  await using dir = await tempDir();
  const fast = new FileHandler("INFO", { filename: dir.file("fast.log") });
  const slow = new OneByOne("INFO", { filename: dir.file("slow.log") });
  const listener = new QueueListener([fast, slow]).start();
  const handler = new QueueHandler("NOTSET", {
    connection: listener.connect({ name: "job" }),
    preformat: true,
    formatter,
  });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (let i = 0; i < 3_000; i++) logger.info(`line ${i}`);
  await handler.flush();
  await listener.stop();
  const fastText = await Deno.readTextFile(dir.file("fast.log"));
  assertEquals(fastText, await Deno.readTextFile(dir.file("slow.log")));
  const lines = fastText.split("\n");
  assertEquals(lines.pop(), "");
  assertEquals(lines, Array.from({ length: 3_000 }, (_, i) => `INFO app line ${i} []`));
});
