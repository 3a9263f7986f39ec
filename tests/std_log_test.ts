// What workerlog relies on in the real @std/log 0.224.14 (the version
// deno.json pins), so that a change of behaviour shows up here first: the
// FileHandler's buffering and CRITICAL flush, log.setup() destroying the
// handlers it replaces, LogRecord being type-only in the package's root
// module, and what FileHandler does on a disk that fills up.
import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { FileHandler, Logger, setup } from "@std/log";
import { type HandlerError, jsonLinesFormatter, QueueListener } from "@workerlog/workerlog";
import { canMountTmpfs, readLines, smallDisk, tempDir } from "./_helpers.ts";

/** A FileHandler that counts how often it is destroyed. */
class CountingFileHandler extends FileHandler {
  destroyed = 0;
  override destroy() {
    this.destroyed++;
    super.destroy();
  }
}

const fileSize = (path: string) => Deno.statSync(path).size;

Deno.test("std/log: FileHandler writes nothing until its 4 KiB buffer is full or it is flushed", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const handler = new FileHandler("INFO", { filename: file, formatter: (record) => record.msg });
  handler.setup();
  try {
    const logger = new Logger("app", "INFO", { handlers: [handler] });
    const line = (i: number) => `${String(i).padStart(3, "0")} ${"x".repeat(95)}`; // 100 bytes with "\n"
    for (let i = 0; i < 40; i++) logger.info(line(i));
    assertEquals(fileSize(file), 0, "4,000 bytes fit in the buffer");
    logger.info(line(40));
    assertEquals(fileSize(file), 4_000, "the 41st line did not fit: the 40 before it were written");
    handler.flush();
    assertEquals(fileSize(file), 4_100);
    assertEquals(await readLines(file), Array.from({ length: 41 }, (_, i) => line(i)));
  } finally {
    handler.destroy();
  }
});

Deno.test("std/log: FileHandler writes a CRITICAL record, and what was buffered, at once", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const handler = new FileHandler("INFO", { filename: file, formatter: (record) => record.msg });
  handler.setup();
  try {
    const logger = new Logger("app", "INFO", { handlers: [handler] });
    logger.error("buffered");
    assertEquals(fileSize(file), 0, "ERROR is buffered");
    logger.critical("at once");
    assertEquals(await readLines(file), ["buffered", "at once"]);
  } finally {
    handler.destroy();
  }
});

Deno.test("std/log: setup() destroys the handlers it replaces, which flushes their buffers", async () => {
  await using dir = await tempDir();
  const first = new CountingFileHandler("INFO", {
    filename: dir.file("first.log"),
    formatter: (record) => record.msg,
  });
  const second = new CountingFileHandler("INFO", {
    filename: dir.file("second.log"),
    formatter: (record) => record.msg,
  });
  const { info } = await import("@std/log");
  try {
    setup({ handlers: { first }, loggers: { default: { level: "INFO", handlers: ["first"] } } });
    info("into the first");
    assertEquals(fileSize(dir.file("first.log")), 0, "still in the buffer");
    setup({ handlers: { second }, loggers: { default: { level: "INFO", handlers: ["second"] } } });
    assertEquals([first.destroyed, second.destroyed], [1, 0]);
    assertEquals(await readLines(dir.file("first.log")), ["into the first"]);
    info("into the second");
  } finally {
    setup({});
  }
  assertEquals([first.destroyed, second.destroyed], [1, 1]);
  assertEquals(await readLines(dir.file("second.log")), ["into the second"]);
});

/** Runs `deno check` on `code` in a project that maps "@std/log" as deno.json does. */
async function denoCheck(code: string): Promise<{ code: number; output: string }> {
  await using dir = await tempDir();
  const imports = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)))
    .imports;
  await Deno.writeTextFile(
    dir.file("deno.json"),
    JSON.stringify({ imports: { "@std/log": imports["@std/log"] }, lock: false }),
  );
  await Deno.writeTextFile(dir.file("snippet.ts"), code);
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["check", "snippet.ts"],
    cwd: dir.path,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("std/log: LogRecord from the root module is a type only (TS1362); the class is in @std/log/logger", async () => {
  const { code, output } = await denoCheck([
    `import { LogRecord } from "@std/log";`,
    `import { LogRecord as TheClass } from "@std/log/logger";`,
    `export const fromLogger = new TheClass({ msg: "x", args: [], level: 20, loggerName: "a" });`,
    `export const fromRoot = new LogRecord({ msg: "x", args: [], level: 20, loggerName: "a" });`,
  ].join("\n"));
  assertEquals(code, 1, output);
  assertStringIncludes(
    output,
    "TS1362 [ERROR]: 'LogRecord' cannot be used as a value because it was exported using 'export type'.",
  );
  assertEquals(output.match(/TS\d+ \[ERROR\]/g), ["TS1362 [ERROR]"], output);
  assertStringIncludes(output, "snippet.ts:4:", "the error is on the root module's LogRecord");
});

const mountable = await canMountTmpfs();

Deno.test({
  name:
    "std/log: FileHandler on a disk that fills up loses records, and when space returns writes a torn line and duplicates",
  ignore: !mountable,
  async fn() {
    await using disk = await smallDisk(256);
    const file = `${disk.path}/app.log`;
    const reports: HandlerError[] = [];
    const sink = new FileHandler("INFO", { filename: file, formatter: jsonLinesFormatter });
    await using listener = new QueueListener([sink], { onError: (error) => reports.push(error) })
      .start();
    const logger = new Logger("app", "INFO", { handlers: [listener.handler()] });
    const logSome = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) logger.info(`${prefix} ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await logSome("space", 100);
    disk.fill();
    await logSome("full", 200);
    await Deno.remove(`${disk.path}/filler`);
    await logSome("freed", 100);
    await listener.stop();

    const whole: string[] = [];
    const torn: string[] = [];
    for (const line of await readLines(file)) {
      try {
        whole.push(JSON.parse(line).msg);
      } catch {
        torn.push(line);
      }
    }
    const full = whole.filter((msg) => msg.startsWith("full "));
    // The short write that filled the disk took the first lines of the
    // buffer and half of the next. The failed flush left the buffer as it
    // was, and once there was space it was written again from its start:
    // the half line runs into a second copy of the first one, and the lines
    // of the short write are in the file twice.
    assertEquals(torn.length, 1, "one line is torn");
    assert(torn[0].endsWith(`"msg":"full 0","seq":100}`), torn[0]);
    assertGreater(full.length, new Set(full).size, "lines written twice");
    assertEquals(full.filter((msg) => msg === "full 1").length, 2);
    // While the buffer was full every log call failed: those records are lost.
    assert(!full.includes("full 199"), "records logged while the disk was full are lost");
    assertEquals(whole.filter((msg) => msg.startsWith("space ")).length, 100);
    assertEquals(whole.filter((msg) => msg.startsWith("freed ")).length, 100);
    assertEquals(reports.length, 1);
    assertStringIncludes(reports[0].message, "No space left on device");
  },
});
