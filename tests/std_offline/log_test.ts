// Pins the behaviours of @std/log 0.224.14 that workerlog relies on, as
// listed in STD_LOG_API.md. Run offline they test the stand-ins; run against
// the real package (`deno task test`) they check the stand-ins still match it.
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  BaseHandler,
  ConsoleHandler,
  FileHandler,
  formatters,
  getLevelByName,
  getLevelName,
  getLogger,
  type LevelName,
  Logger,
  LogLevelNames,
  LogLevels,
  RotatingFileHandler,
  setup,
} from "@std/log";
import { LogRecord } from "@std/log/logger";
import { tempDir } from "../_helpers.ts";

class ListHandler extends BaseHandler {
  lines: string[] = [];
  events: string[] = [];
  log(msg: string) {
    this.lines.push(msg);
  }
  override setup() {
    this.events.push("setup");
  }
  override destroy() {
    this.events.push("destroy");
  }
}

Deno.test("std/log: level lookups, and both throw for unknown input", () => {
  assertEquals(LogLevels, { NOTSET: 0, DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, CRITICAL: 50 });
  assertEquals(LogLevelNames, ["NOTSET", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]);
  assertEquals(getLevelByName("WARN"), 30);
  assertEquals(getLevelName(40), "ERROR");
  assertThrows(() => getLevelByName("LOUD" as LevelName), Error);
  assertThrows(() => getLevelName(35 as 30), Error);
  assertThrows(() => new ConsoleHandler("LOUD" as LevelName), Error);
});

Deno.test("std/log: LogRecord copies args and datetime on every read", () => {
  const args = [{ a: 1 }];
  const before = Date.now();
  const record = new LogRecord({ msg: "m", args, level: 20, loggerName: "x" });
  assertEquals(record.levelName, "INFO");
  assertNotEquals(record.args, undefined);
  assert(record.args !== record.args, "args is a new array each call");
  assertStrictEquals(record.args[0], args[0]);
  args.push({ a: 2 });
  assertEquals(record.args.length, 1, "the record keeps its own copy of the array");
  assert(record.datetime !== record.datetime, "datetime is a new Date each call");
  assert(record.datetime.getTime() >= before && record.datetime.getTime() <= Date.now());
});

Deno.test("std/log: BaseHandler drops records below its level and formats the rest", () => {
  const handler = new ListHandler("WARN");
  handler.handle(new LogRecord({ msg: "quiet", args: [], level: 20, loggerName: "x" }));
  handler.handle(new LogRecord({ msg: "loud", args: [], level: 40, loggerName: "x" }));
  assertEquals(handler.lines, ["ERROR loud"]);
  handler.levelName = "DEBUG";
  assertEquals(handler.level, 10);
});

Deno.test("std/log: Logger stringifies msg, builds one record and calls every handler", () => {
  const first = new ListHandler("DEBUG");
  const second = new ListHandler("DEBUG");
  const logger = new Logger("app", "INFO", { handlers: [first, second] });
  logger.debug("dropped by the logger");
  assertEquals(logger.info({ a: 1 }), { a: 1 });
  assertEquals(logger.error(() => "lazy"), "lazy");
  assertEquals(first.lines, ['INFO {"a":1}', "ERROR lazy"]);
  assertEquals(second.lines, first.lines);
  assertStrictEquals(logger.info(new Error("boom")).message, "boom");
  assert(first.lines[2].startsWith("INFO Error: boom\n    at "), "an Error becomes its stack");
});

Deno.test("std/log: setup() destroys the old handlers, sets up the new, rebuilds loggers", () => {
  const old = new ListHandler("INFO");
  setup({ handlers: { old }, loggers: { app: { level: "INFO", handlers: ["old"] } } });
  const fresh = new ListHandler("INFO");
  setup({ handlers: { fresh }, loggers: { app: { level: "WARN", handlers: ["fresh"] } } });
  assertEquals(old.events, ["setup", "destroy"]);
  assertEquals(fresh.events, ["setup"]);
  const app = getLogger("app");
  assertEquals(app.levelName, "WARN");
  assertEquals(app.handlers, [fresh]);
  const unknown = getLogger("nobody-configured-this");
  assertEquals([unknown.levelName, unknown.handlers.length], ["NOTSET", 0]);
  setup({});
});

Deno.test("std/log: FileHandler buffers, flushes on CRITICAL and on destroy", async () => {
  await using dir = await tempDir();
  const filename = dir.file("file.log");
  const handler = new FileHandler("INFO", { filename, bufferSize: 1024 });
  handler.log("before setup goes nowhere");
  handler.setup();
  handler.handle(new LogRecord({ msg: "buffered", args: [], level: 40, loggerName: "x" }));
  assertEquals(await Deno.readTextFile(filename), "", "ERROR stays in the buffer");
  handler.handle(new LogRecord({ msg: "now", args: [], level: 50, loggerName: "x" }));
  assertEquals(await Deno.readTextFile(filename), "ERROR buffered\nCRITICAL now\n");
  handler.log("x".repeat(2000));
  assertEquals(
    (await Deno.readTextFile(filename)).length,
    28 + 2001,
    "a line larger than the buffer goes straight through",
  );
  handler.log("tail");
  handler.destroy();
  assert((await Deno.readTextFile(filename)).endsWith("\ntail\n"));
});

Deno.test("std/log: FileHandler mode w truncates, x refuses an existing file", async () => {
  await using dir = await tempDir();
  const filename = dir.file("file.log");
  await Deno.writeTextFile(filename, "old\n");
  const truncating = new FileHandler("INFO", { filename, mode: "w" });
  truncating.setup();
  truncating.destroy();
  assertEquals(await Deno.readTextFile(filename), "");
  assertThrows(
    () => new FileHandler("INFO", { filename, mode: "x" }).setup(),
    Deno.errors.AlreadyExists,
  );
});

Deno.test("std/log: RotatingFileHandler rotates before a line passes maxBytes", async () => {
  await using dir = await tempDir();
  const filename = dir.file("rotating.log");
  assertThrows(() =>
    new RotatingFileHandler("INFO", { filename, maxBytes: 0, maxBackupCount: 1 }).setup()
  );
  const handler = new RotatingFileHandler("INFO", {
    filename,
    maxBytes: 15,
    maxBackupCount: 2,
    mode: "w",
  });
  handler.setup();
  for (const msg of ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"]) handler.log(msg);
  handler.destroy();
  assertEquals(await Deno.readTextFile(filename), "ddddddddd\n");
  assertEquals(await Deno.readTextFile(`${filename}.1`), "ccccccccc\n");
  assertEquals(
    await Deno.readTextFile(`${filename}.2`),
    "bbbbbbbbb\n",
    "the oldest backup is gone",
  );
});

Deno.test("std/log: jsonFormatter flattens args", () => {
  const format = (args: unknown[]) =>
    JSON.parse(
      formatters.jsonFormatter(new LogRecord({ msg: "m", args, level: 20, loggerName: "x" })),
    );
  assertEquals(format([]).args, undefined);
  assertEquals(format([1]).args, 1);
  assertEquals(format([1, 2]).args, [1, 2]);
  assertEquals(format([]).level, "INFO");
  assertEquals(format([]).message, "m");
});
