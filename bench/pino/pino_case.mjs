// The pino cases of the benchmark, run under Node by bench/harness.ts.
// Writes `records` lines like the Deno cases and prints the same JSON.
//
//   node bench/pino/pino_case.mjs <transport | destination> <records> <file>
import pino from "pino";
import { once } from "node:events";
import { readFileSync, statSync } from "node:fs";

const [mode, recordsArg, file] = process.argv.slice(2);
const records = Number(recordsArg);
const CHUNK = 100;

const message = (i) => `GET /api/items/${i} 200 ${i % 97}ms`;

// CPU of the main thread (a synchronous read runs on the calling thread) and of the process.
const threadCpuNs = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
const cpuBefore = threadCpuNs();
const processBefore = process.cpuUsage();
const started = performance.now();
const stream = mode === "transport"
  ? pino.transport({ target: "pino/file", options: { destination: file } })
  : pino.destination({ dest: file, sync: false });
if (mode === "transport") await once(stream, "ready");
const logger = pino(stream);

const perCall = [];
for (let start = 0; start < records; start += CHUNK) {
  const end = Math.min(start + CHUNK, records);
  const began = performance.now();
  for (let i = start; i < end; i++) logger.info(message(i));
  perCall.push(((performance.now() - began) * 1000) / (end - start));
}

// pino's worker transport does not keep Node's event loop alive while it
// drains; a timer does, until the file is closed.
const keepAlive = setInterval(() => {}, 1_000);
stream.end();
await once(stream, "close");
clearInterval(keepAlive);
const seconds = (performance.now() - started) / 1000;
const mainCpuNs = threadCpuNs() - cpuBefore;
const { user, system } = process.cpuUsage(processBefore);

perCall.sort((a, b) => a - b);
console.log(JSON.stringify({
  records,
  seconds,
  bytes: statSync(file).size,
  perCallUs: perCall[perCall.length >> 1],
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  mainCpuUs: mainCpuNs / 1000 / records,
  processCpuUs: (user + system) / records,
}));
