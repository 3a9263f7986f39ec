// Deno.bench micro benchmarks of the per-record steps: one log call in a
// worker; the listener rebuilding records from a batch; formatting (the
// textFormatter and the "user shape" formatter with datetime.toISOString());
// encoding (TextEncoder.encode per line vs encodeInto a 64 KiB buffer); and
// writing (the @std/log FileHandler per line vs one write per 64 KiB).
//
//   deno bench -A bench/micro_bench.ts        (BENCH_SMOKE=1: a quick run)
import { BaseHandler, FileHandler, Logger } from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  jsonLinesFormatter,
  type PostTarget,
  QueueHandler,
  textFormatter,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import { BatchBuilder } from "../sender/_batch_builder.ts";
import { forEachRecord } from "../listener/_decode.ts";
import type { RecordBatch } from "../common/_wire.ts";
import { captureArgs } from "../common/_capture.ts";
import { message, USER_LOGGER, userFormatter, userMessage } from "./_shape.ts";

const smoke = Deno.env.get("BENCH_SMOKE") === "1";
const options = smoke ? { n: 10, warmup: 1 } : {};
const LINES = 512;
const BUFFER = 64 * 1024;

class Discard extends BaseHandler {
  log() {}
}
const discard: PostTarget = { postMessage() {} };

// --- log call -------------------------------------------------------------

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

// --- rebuild: the listener turning a batch back into records --------------

const builder = new BatchBuilder(LINES);
for (let seq = 0; seq < LINES; seq++) {
  builder.addRecord(
    seq,
    new LogRecord({ msg: userMessage(seq), args: [], level: 20, loggerName: USER_LOGGER }),
  );
}
const batch = structuredClone(builder.take().batch) as RecordBatch;
const sender = { name: "worker-0", index: 0 };

Deno.bench("rebuild: one WorkerLogRecord from a batch's columns", {
  group: "rebuild (per record)",
  baseline: true,
  ...options,
}, () => {
  const at = i++ % LINES;
  new WorkerLogRecord({
    msg: batch.text.slice(at === 0 ? 0 : batch.ends[at - 1], batch.ends[at]),
    args: [],
    level: 20,
    loggerName: batch.loggerNames[batch.loggerAt[at]],
    datetime: batch.times[at],
    worker: sender.name,
    workerIndex: sender.index,
    seq: at,
  });
});
Deno.bench("rebuild: one @std/log LogRecord (what a direct log call makes)", {
  group: "rebuild (per record)",
  ...options,
}, () => {
  new LogRecord({ msg: userMessage(i++), args: [], level: 20, loggerName: USER_LOGGER });
});

Deno.bench(
  `listener: rebuild a batch of ${LINES} records`,
  { group: "listener", ...options },
  () => {
    forEachRecord(batch, sender, () => {});
  },
);
Deno.bench(`listener: rebuild and textFormat ${LINES} records`, {
  group: "listener",
  ...options,
}, () => {
  forEachRecord(batch, sender, (rebuilt) => textFormatter(rebuilt));
});
Deno.bench(`listener: rebuild and user-format ${LINES} records`, {
  group: "listener",
  ...options,
}, () => {
  forEachRecord(batch, sender, (rebuilt) => userFormatter(rebuilt));
});
Deno.bench(`wire: structured clone of a batch of ${LINES} records`, {
  group: "listener",
  ...options,
}, () => {
  structuredClone(batch);
});

// --- format (per record) --------------------------------------------------

const record = new WorkerLogRecord({
  msg: message(42),
  args: [],
  level: 20,
  loggerName: "default",
  datetime: Date.now(),
  worker: "worker-0",
  seq: 42,
});
const userRecord = new WorkerLogRecord({
  msg: userMessage(42),
  args: [],
  level: 20,
  loggerName: USER_LOGGER,
  datetime: Date.now(),
  worker: "worker-0",
  seq: 42,
});
const userPlainRecord = new LogRecord({
  msg: userMessage(42),
  args: [],
  level: 20,
  loggerName: USER_LOGGER,
});
const withArgs = new LogRecord({
  msg: message(42),
  args: [{ user: 7, ok: true, path: "/api/items" }],
  level: 20,
  loggerName: "default",
});
const now = Date.now();

Deno.bench("textFormatter", { group: "format", baseline: true, ...options }, () => {
  textFormatter(record);
});
Deno.bench("user-shape formatter, WorkerLogRecord", { group: "format", ...options }, () => {
  userFormatter(userRecord);
});
Deno.bench("user-shape formatter, @std/log LogRecord", { group: "format", ...options }, () => {
  userFormatter(userPlainRecord);
});
Deno.bench("record.datetime.toISOString() alone, WorkerLogRecord", {
  group: "format",
  ...options,
}, () => {
  userRecord.datetime.toISOString();
});
Deno.bench("new Date(ms).toISOString() alone", { group: "format", ...options }, () => {
  new Date(now + (i++ & 1023)).toISOString();
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

// --- encode (512 user-shape lines) -----------------------------------------

const lines = Array.from({ length: LINES }, (_, at) => userFormatter(userPlainRecord) + at);
const encoder = new TextEncoder();
const encodeBuffer = new Uint8Array(BUFFER);

Deno.bench(`encode: TextEncoder.encode(line + "\\n") per line, ${LINES} lines`, {
  group: "encode",
  baseline: true,
  ...options,
}, () => {
  for (const line of lines) encoder.encode(line + "\n");
});
Deno.bench(`encode: encodeInto a 64 KiB buffer, ${LINES} lines`, {
  group: "encode",
  ...options,
}, () => {
  let used = 0;
  for (const line of lines) {
    used += encoder.encodeInto(line, encodeBuffer.subarray(used)).written;
    encodeBuffer[used++] = 10;
  }
});

// --- write (512 user-shape lines into a real file) --------------------------

const dir = Deno.makeTempDirSync({ prefix: "workerlog_micro_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
// The files are cut back now and then so that a long run does not fill the disk.
const TRUNCATE_AT = 64 * 2 ** 20;

const handlerFile = `${dir}/file_handler.log`;
const fileHandler = new FileHandler("INFO", {
  filename: handlerFile,
  formatter: (r) => r.msg,
});
fileHandler.setup();
let handlerBytes = 0;
globalThis.addEventListener("unload", () => fileHandler.destroy());

Deno.bench(`write: the @std/log FileHandler.log per line (4 KiB buffer), ${LINES} lines`, {
  group: "write",
  baseline: true,
  ...options,
}, () => {
  for (const line of lines) fileHandler.log(line);
  handlerBytes += LINES * 60;
  if (handlerBytes > TRUNCATE_AT) {
    Deno.truncateSync(handlerFile, 0);
    handlerBytes = 0;
  }
});

Deno.bench(`write: the @std/log FileHandler.log once per batch (${LINES} lines joined)`, {
  group: "write",
  ...options,
}, () => {
  // FileHandler.log() writes a message longer than its buffer straight through:
  // one encode and one write per batch, through its public API.
  fileHandler.log(lines.join("\n"));
  handlerBytes += LINES * 60;
  if (handlerBytes > TRUNCATE_AT) {
    Deno.truncateSync(handlerFile, 0);
    handlerBytes = 0;
  }
});

const bufferedFile = Deno.openSync(`${dir}/buffered.log`, { create: true, append: true });
globalThis.addEventListener("unload", () => bufferedFile.close());
const writeBuffer = new Uint8Array(BUFFER);
let writeUsed = 0;
let bufferedBytes = 0;

Deno.bench(`write: encodeInto 64 KiB, one write per full buffer, ${LINES} lines`, {
  group: "write",
  ...options,
}, () => {
  for (const line of lines) {
    // A line of ~60 bytes fits when 4 KiB are left; flush before that.
    if (BUFFER - writeUsed < 4096) flushBuffered();
    writeUsed += encoder.encodeInto(line, writeBuffer.subarray(writeUsed)).written;
    writeBuffer[writeUsed++] = 10;
  }
});

function flushBuffered() {
  for (let at = 0; at < writeUsed;) {
    at += bufferedFile.writeSync(writeBuffer.subarray(at, writeUsed));
  }
  bufferedBytes += writeUsed;
  writeUsed = 0;
  if (bufferedBytes > TRUNCATE_AT) {
    bufferedFile.truncateSync(0);
    bufferedBytes = 0;
  }
}
