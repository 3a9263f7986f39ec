// Whatever is logged, handle() never throws, every record arrives, args
// arrive as JSON data (readable strings where structured clone or JSON
// cannot carry a value), and no message, logger name or arg can break a
// line of text or of JSON Lines. Also (at the end): what the capture keeps
// of awkward args, and times that are not whole milliseconds.
import fc from "fast-check";
import { assert, assertEquals, assertFalse, assertStringIncludes } from "@std/assert";
import { BaseHandler, FileHandler, Logger, type LogLevel } from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  jsonLinesFormatter,
  QueueHandler,
  QueueListener,
  spawn,
  textFormatter,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import { captureArgs } from "../common/_capture.ts";
import { fixture, jsonFile, readJsonLines, readLines, tempDir } from "./_helpers.ts";

/** Collects what the listener hands over. */
class Collect extends BaseHandler {
  records: WorkerLogRecord[] = [];
  override handle(record: WorkerLogRecord) {
    this.records.push(record);
  }
  log() {}
}

/** True when `value` is nothing but JSON: what JSON.parse could have produced. */
function isJsonData(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) {
    return Object.keys(value).length === value.length && value.every(isJsonData);
  }
  if (typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === null) &&
    Object.getOwnPropertySymbols(value).length === 0 &&
    Object.values(value).every(isJsonData);
}

class Point {
  constructor(public x: number, public y: number) {}
  get length() {
    return Math.hypot(this.x, this.y);
  }
}

const circular = () => {
  const node: Record<string, unknown> = { name: "node" };
  node.self = node;
  node.list = [node, { back: node }];
  return node;
};

// Any code point, with ASCII (control characters, quotes, backslash) and
// lone surrogates often. fast-check's own "binary" unit would do, but
// building it takes 2 s of CPU each time this file loads.
const anyCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0xd800, max: 0xdfff }),
  fc.integer({ min: 0, max: 0x10ffff }),
).map((codePoint) => String.fromCodePoint(codePoint));

// Strings that carry NUL, lone surrogates, line breaks and JSON's own syntax.
const hostileString = fc.oneof(
  fc.string({ unit: anyCharacter }),
  fc.constantFrom(
    "\u0000",
    "\ud800",
    "\udfff tail",
    "a\nb",
    "\r\n",
    "\u2028\u2029",
    '"},{"level":"CRITICAL"',
    "ok\n2026-01-01T00:00:00.000Z CRITICAL [worker-9] admin: forged",
  ),
);

const anyArg = fc.oneof(
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    withBoxedValues: true,
    withObjectString: true,
    stringUnit: anyCharacter,
  }),
  hostileString,
  fc.constantFrom<unknown>(
    () => 1,
    function named() {},
    class Thing {},
    Symbol("s"),
    Symbol(),
    10n ** 30n,
    NaN,
    -Infinity,
    undefined,
    new Point(3, 4),
    new Error("outer", { cause: new TypeError("inner", { cause: { code: 7 } }) }),
    new AggregateError([new Error("a")], "many"),
    new Map<unknown, unknown>([[{ key: 1 }, "object key"], [2n, "bigint key"]]),
    new Set([1, "two", Symbol("three")]),
    new Date(Number.NaN),
    new Uint8Array([1, 2, 3]),
    new BigInt64Array([1n]),
    new ArrayBuffer(8),
    new DataView(new ArrayBuffer(4)),
    new WeakMap(),
    Promise.resolve(1),
    /regex/g,
    new URL("https://example.com/?q=1"),
    { fn: () => 1, sym: Symbol("inside"), nested: { deeper: [1, undefined, () => 2] } },
    {
      get boom(): never {
        throw new Error("getter throws");
      },
    },
    new Proxy({}, {
      ownKeys() {
        throw new Error("proxy refuses");
      },
    }),
  ),
  fc.constant(null).map(circular),
);

const levels: LogLevel[] = [10, 20, 30, 40, 50];

Deno.test("bad input: any msg, logger name and args: no throw, every record arrives as JSON data, one line each", async () => {
  await using listener = new QueueListener([new Collect("NOTSET")]).start();
  const collected = (listener.handlers[0] as Collect).records;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          msg: hostileString,
          loggerName: hostileString,
          level: fc.constantFrom(...levels),
          args: fc.array(anyArg, { maxLength: 4 }),
        }),
        { minLength: 1, maxLength: 20 },
      ),
      async (records) => {
        collected.length = 0;
        const handler = new QueueHandler("NOTSET", {
          connection: listener.connect(),
          batchSize: 7,
        });
        for (const record of records) handler.handle(new LogRecord(record));
        await handler.flush();
        assertEquals(collected.length, records.length, "every record arrives");
        for (const [i, got] of collected.entries()) {
          assertEquals(got.msg, records[i].msg);
          assertEquals(got.loggerName, records[i].loggerName);
          assertEquals(got.level, records[i].level);
          assertEquals(got.seq, i);
          assertEquals(got.args.length, records[i].args.length);
          assert(isJsonData(got.args), `args are not JSON data: ${Deno.inspect(got.args)}`);
          const text = textFormatter(got);
          assertFalse(
            /[\n\r\u2028\u2029]/.test(text),
            `a text line broke: ${JSON.stringify(text)}`,
          );
          const json = jsonLinesFormatter(got);
          assertFalse(/[\n\r\u2028\u2029]/.test(json), `a JSON line broke: ${json}`);
          const parsed = JSON.parse(json);
          assertEquals([parsed.msg, parsed.logger], [records[i].msg, records[i].loggerName]);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("bad input: what JSON and structured clone cannot carry arrives readable", async () => {
  await using listener = new QueueListener([new Collect("NOTSET")]).start();
  const handler = new QueueHandler("NOTSET", { connection: listener.connect() });
  const args = [
    function greet() {},
    Symbol("token"),
    { id: 7, callback: () => 1 },
    12345678901234567890n,
    circular(),
    new Point(3, 4),
    new Error("outer", { cause: new TypeError("inner", { cause: "root" }) }),
    new Map([["a", 1]]),
    new Set([1, 2]),
    new Date(0),
    NaN,
    new URL("https://example.com/x"),
    new Float64Array([1.5, Infinity, -Infinity, NaN]),
  ];
  handler.handle(new LogRecord({ msg: "all of it", args, level: 20, loggerName: "x" }));
  await handler.flush();
  const [record] = (listener.handlers[0] as Collect).records;
  const [fn, symbol, holder, big, loop, point, error, map, set, date, nan, url, floats] = record
    .args as [
      string,
      string,
      Record<string, unknown>,
      string,
      Record<string, unknown>,
      unknown,
      Record<string, Record<string, unknown>>,
      unknown,
      unknown,
      unknown,
      unknown,
      unknown,
      unknown,
    ];
  assertEquals([fn, symbol, big, nan], [
    "[Function: greet]",
    "Symbol(token)",
    "12345678901234567890n",
    "NaN",
  ]);
  assertEquals(holder, { id: 7, callback: "[Function: callback]" });
  assertEquals(loop, {
    name: "node",
    self: "[Circular]",
    list: ["[Circular]", { back: "[Circular]" }],
  });
  assertEquals(point, { x: 3, y: 4 });
  assertEquals([error.name, error.message], ["Error", "outer"]);
  assertEquals([error.cause.name, error.cause.message, error.cause.cause], [
    "TypeError",
    "inner",
    "root",
  ]);
  assertStringIncludes(String(error.stack), "bad_input_test.ts");
  assertEquals([map, set, date, url], [
    { a: 1 },
    [1, 2],
    "1970-01-01T00:00:00.000Z",
    "https://example.com/x",
  ]);
  // JSON has no NaN or Infinity: in a typed array too, they arrive as strings.
  assertEquals(floats, [1.5, "Infinity", "-Infinity", "NaN"]);
});

Deno.test("bad input: an arg mutated after the log call is logged as it was", async () => {
  await using listener = new QueueListener([new Collect("NOTSET")]).start();
  const handler = new QueueHandler("NOTSET", { connection: listener.connect() });
  const order = { items: ["a"] };
  handler.handle(new LogRecord({ msg: "order", args: [order], level: 20, loggerName: "x" }));
  order.items.push("b");
  await handler.flush();
  assertEquals((listener.handlers[0] as Collect).records[0].args, [{ items: ["a"] }]);
});

Deno.test("bad input: a 10 MB message and a 10 MB arg cross from a worker intact", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("huge_worker.ts"), {
    count: 1,
    handlers: [jsonFile(file)],
  });
  const [line, after] = await readJsonLines(file);
  assertEquals(line.msg.length, 10_000_000);
  assertEquals(line.msg, "0123456789".repeat(1_000_000));
  assertEquals((line.args![0] as string).length, 10_000_000);
  assertEquals(after.msg, "after the big one");
});

Deno.test("bad input: a message cannot forge a record in text or JSON Lines files", async () => {
  await using dir = await tempDir();
  const textFile = dir.file("text.log");
  const jsonPath = dir.file("json.log");
  {
    await using listener = new QueueListener([
      new FileHandler("INFO", { filename: textFile, formatter: textFormatter }),
      jsonFile(jsonPath),
    ]).start();
    const handler = new QueueHandler("INFO", { connection: listener.connect({ name: "web" }) });
    const forged = "hello\n2026-01-01T00:00:00.000Z CRITICAL [main] admin: password reset\r\u2028";
    handler.handle(new LogRecord({ msg: forged, args: [forged], level: 20, loggerName: 'x"\n}{' }));
    await handler.flush();
  }
  const text = await readLines(textFile);
  assertEquals(text.length, 1);
  assertStringIncludes(
    text[0],
    "hello\\n2026-01-01T00:00:00.000Z CRITICAL [main] admin: password reset\\r\\u2028",
  );
  const json = await readJsonLines(jsonPath);
  assertEquals(json.length, 1);
  assertEquals(json[0].logger, 'x"\n}{');
});

// Values and formats: what the capture keeps of awkward args, and times
// that are not whole milliseconds.

Deno.test("values: an AggregateError's errors are captured, as a cause is", () => {
  const error = new AggregateError([new Error("first"), new TypeError("second")], "both failed", {
    cause: new Error("root"),
  });
  const [captured] = captureArgs([error]) as [Record<string, unknown>];
  assertEquals(captured.name, "AggregateError");
  assertEquals(captured.message, "both failed");
  assertEquals((captured.cause as { message: string }).message, "root");
  const errors = captured.errors as { name: string; message: string }[];
  assertEquals(errors.map((e) => `${e.name}: ${e.message}`), ["Error: first", "TypeError: second"]);
});

Deno.test("values: a nested toJSON() that throws replaces only that value, not its siblings", () => {
  const bad = {
    toJSON() {
      throw new Error("toJSON exploded");
    },
  };
  const [captured] = captureArgs([{ before: 1, bad, list: [bad, 2], after: "kept" }]);
  assertEquals(captured, {
    before: 1,
    bad: "[unreadable: Error: toJSON exploded]",
    list: ["[unreadable: Error: toJSON exploded]", 2],
    after: "kept",
  });
});

Deno.test("values: a record time with a fraction of a millisecond prints as a Date would", () => {
  for (const time of [1_764_000_000_123.75, 0.5, -1.5]) {
    const record = new WorkerLogRecord({
      msg: "m",
      args: [],
      level: 20,
      loggerName: "app",
      datetime: time,
      worker: "worker-0",
      seq: 0,
    });
    const iso = new Date(time).toISOString();
    assertEquals(record.datetime.toISOString(), iso);
    assertEquals(record.time, new Date(time).getTime());
    assertEquals(textFormatter(record).slice(0, iso.length), iso);
    assertEquals(JSON.parse(jsonLinesFormatter(record)).time, iso);
  }
});

Deno.test("values: WorkerLogRecord's datetime is a real Date, also when mutated", () => {
  const record = new WorkerLogRecord({
    msg: "m",
    args: [],
    level: 20,
    loggerName: "app",
    datetime: Date.UTC(2026, 10, 25, 9, 0, 0, 7),
    worker: "worker-0",
    seq: 0,
  });
  const date = record.datetime;
  assertEquals(date instanceof Date, true);
  assertEquals(date.toISOString(), "2026-11-25T09:00:00.007Z");
  assertEquals(JSON.stringify({ date }), '{"date":"2026-11-25T09:00:00.007Z"}');
  date.setUTCFullYear(2030);
  assertEquals(date.toISOString(), "2030-11-25T09:00:00.007Z");
  assertEquals(record.datetime.toISOString(), "2026-11-25T09:00:00.007Z", "each call a fresh Date");
});

Deno.test("bad input: a preformat formatter that throws or returns no string costs only its own line", async () => {
  const lines: string[] = [];
  class Collect extends BaseHandler {
    override log(line: string) {
      lines.push(line);
    }
  }
  await using listener = new QueueListener([new Collect("INFO")]).start();
  const failing: Record<string, () => unknown> = {
    "throws-null-prototype": () => {
      throw Object.create(null);
    },
    "returns-undefined": () => undefined,
    "returns-a-number": () => 42,
    "returns-null-prototype": () => Object.create(null),
  };
  const handler = new QueueHandler("INFO", {
    connection: listener.connect({ name: "formatting" }),
    preformat: true,
    formatter: (record: LogRecord) =>
      (Object.hasOwn(failing, record.msg) ? failing[record.msg]() : `ok ${record.msg}`) as string,
  });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (const msg of ["a", ...Object.keys(failing).flatMap((name, i) => [name, `after ${i}`])]) {
    logger.info(msg); // never throws
  }
  await handler.flush();
  assertEquals(lines, [
    "ok a",
    "INFO throws-null-prototype [formatter failed: [Object: null prototype] {}]",
    "ok after 0",
    "undefined",
    "ok after 1",
    "42",
    "ok after 2",
    "INFO returns-null-prototype [formatter failed: it returned [Object: null prototype] {}, not a string]",
    "ok after 3",
  ]);
});
