// Values and formats: what the capture keeps of awkward args, and times
// that are not whole milliseconds.
import { assertEquals } from "@std/assert";
import { jsonLinesFormatter, textFormatter, WorkerLogRecord } from "@workerlog/workerlog";
import { captureArgs } from "../common/_capture.ts";

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
