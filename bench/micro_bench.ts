// Deno.bench micro benchmarks of the hot paths: one log call in a worker,
// formatting, and the listener's rebuilding of a batch.
//
//   deno bench -A bench/micro_bench.ts        (BENCH_SMOKE=1: a quick run)
import { BaseHandler, Logger } from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  jsonLinesFormatter,
  type PostTarget,
  QueueHandler,
  textFormatter,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import { BatchBuilder, forEachRecord, type RecordBatch } from "../common/_wire.ts";
import { captureArgs } from "../common/_capture.ts";
import { message } from "./_shape.ts";

const smoke = Deno.env.get("BENCH_SMOKE") === "1";
const options = smoke ? { n: 10, warmup: 1 } : {};

class Discard extends BaseHandler {
  log() {}
}
const discard: PostTarget = { postMessage() {} };

let i = 0;
const plain = new Logger("default", "INFO", { handlers: [new Discard("INFO")] });
const queued = new Logger("default", "INFO", {
  handlers: [new QueueHandler("INFO", { connection: { port: discard, name: "bench" } })],
});
const preformatted = new Logger("default", "INFO", {
  handlers: [
    new QueueHandler("INFO", {
      connection: { port: discard, name: "bench" },
      preformat: true,
      formatter: textFormatter,
    }),
  ],
});

Deno.bench("log.info: Logger -> a handler that does nothing (@std/log's own cost)", {
  group: "log call",
  baseline: true,
  ...options,
}, () => {
  plain.info(message(i++));
});

Deno.bench("log.info: Logger -> QueueHandler (records)", { group: "log call", ...options }, () => {
  queued.info(message(i++));
});

Deno.bench("log.info: Logger -> QueueHandler (preformat, textFormatter)", {
  group: "log call",
  ...options,
}, () => {
  preformatted.info(message(i++));
});

const record = new WorkerLogRecord({
  msg: message(42),
  args: [],
  level: 20,
  loggerName: "default",
  datetime: Date.now(),
  worker: "worker-0",
  seq: 42,
});
const withArgs = new LogRecord({
  msg: message(42),
  args: [{ user: 7, ok: true, path: "/api/items" }],
  level: 20,
  loggerName: "default",
});

Deno.bench("textFormatter", { group: "format", baseline: true, ...options }, () => {
  textFormatter(record);
});
Deno.bench("jsonLinesFormatter", { group: "format", ...options }, () => {
  jsonLinesFormatter(record);
});
Deno.bench("textFormatter, one object arg", { group: "format", ...options }, () => {
  textFormatter(withArgs);
});
Deno.bench("captureArgs, one object arg", { group: "format", ...options }, () => {
  captureArgs([{ user: 7, ok: true, path: "/api/items" }]);
});

const builder = new BatchBuilder(512);
for (let seq = 0; seq < 512; seq++) {
  builder.addRecord(
    seq,
    new LogRecord({ msg: message(seq), args: [], level: 20, loggerName: "default" }),
  );
}
const batch = structuredClone(builder.take().batch) as RecordBatch;
const sender = { name: "worker-0", index: 0 };

Deno.bench("listener: rebuild a batch of 512 records", { group: "listener", ...options }, () => {
  forEachRecord(batch, sender, () => {});
});
Deno.bench(
  "listener: rebuild and textFormat 512 records",
  { group: "listener", ...options },
  () => {
    forEachRecord(batch, sender, (rebuilt) => textFormatter(rebuilt));
  },
);

Deno.bench("wire: structured clone of a batch of 512 records", {
  group: "listener",
  ...options,
}, () => {
  structuredClone(batch);
});
