// OtlpHandler throughput: records/s from handle() to accepted by an OTLP/HTTP
// receiver (tests/_otlp_receiver.ts, validating every payload) running in a
// Worker, so that it does not share the handler's thread.
//
//   deno run -A bench/otlp_bench.ts [--records N] [--batch-size N] [--max-in-flight N]
//
// Prints a markdown table; exits 1 if the receiver did not get every record.

function flag(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(Deno.args[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} takes a whole number of at least 1, not ${Deno.args[at + 1]}`);
  }
  return value;
}
import { LogLevels } from "@std/log";
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import { OtlpHandler } from "../sinks/otlp_handler.ts";

const total = flag("records", 200_000);
const batchSize = flag("batch-size", 1_024);
const maxInFlight = flag("max-in-flight", 2);
const CHUNK = 4_096; // records handed over per event-loop turn, as a listener would

const receiverModule = new URL("../tests/_otlp_receiver.ts", import.meta.url).href;
const workerSource = `
import { OtlpReceiver } from ${JSON.stringify(receiverModule)};
const receiver = OtlpReceiver.start({ relay: false, keep: false });
self.postMessage({ url: receiver.logsUrl });
self.onmessage = async ({ data }) => {
  if (data === "stop") await receiver[Symbol.asyncDispose]();
  self.postMessage({
    accepted: receiver.acceptedRecords,
    requests: receiver.requests.length,
    problems: receiver.problems.slice(0, 3),
  });
};`;
const worker = new Worker(`data:application/typescript,${encodeURIComponent(workerSource)}`, {
  type: "module",
});
const next = () =>
  new Promise<Record<string, unknown>>((resolve) => worker.onmessage = ({ data }) => resolve(data));
const { url } = await next() as { url: string };

const records = Array.from({ length: total }, (_, i) =>
  new WorkerLogRecord({
    msg: `request ${i} served`,
    args: [{ i, user: "ada", ms: 12.5, path: "/api/items" }],
    level: i % 10 === 0 ? LogLevels.WARN : LogLevels.INFO,
    loggerName: "http",
    datetime: 1_795_598_965_406 + i,
    worker: `worker-${i % 4}`,
    workerIndex: i % 4,
    seq: i >> 2,
  }));

const handler = new OtlpHandler("DEBUG", {
  endpoint: url,
  batchSize,
  maxInFlight,
  maxQueueSize: 65_536,
});
let handleMs = 0;
const started = performance.now();
for (let i = 0; i < total; i += CHUNK) {
  // Back-pressure as a real producer would meet it: never overfill the queue.
  while (handler.stats().pending > 65_536 - CHUNK) await new Promise((r) => setTimeout(r, 1));
  const handleStart = performance.now();
  const end = Math.min(total, i + CHUNK);
  for (let j = i; j < end; j++) handler.handle(records[j]);
  handleMs += performance.now() - handleStart;
  await new Promise((resolve) => setTimeout(resolve, 0));
}
await handler.drained();
const seconds = (performance.now() - started) / 1000;
await handler[Symbol.asyncDispose]();
const stats = handler.stats();
worker.postMessage("stop");
const received = await next() as { accepted: number; requests: number; problems: string[] };
worker.terminate();

const rate = total / seconds;
console.log(
  `| records | batch | in flight | s | records/s | handle() ns/record | requests | dropped |`,
);
console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|`);
console.log(
  `| ${total.toLocaleString("en")} | ${batchSize} | ${maxInFlight} | ${seconds.toFixed(2)} | ` +
    `${Math.round(rate).toLocaleString("en")} | ${Math.round((handleMs * 1e6) / total)} | ` +
    `${received.requests} | ${stats.dropped} |`,
);
if (received.accepted !== total || received.problems.length > 0) {
  console.error(`receiver accepted ${received.accepted} of ${total}`, received.problems);
  Deno.exit(1);
}
