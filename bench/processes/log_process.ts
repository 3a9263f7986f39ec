// The child process of the process cases (bench/run_case.ts) and of
// bench/socket_bench.ts: logs into the listener whose address and token are
// in its environment (WORKERLOG_ADDRESS, WORKERLOG_TOKEN, WORKERLOG_NAME,
// as listen() hands them out), then prints its figures as JSON.
//
//   deno run -A bench/processes/log_process.ts lines <count>
//     Transport only: <count> preformatted lines of the text shape through
//     ProcessHandler.log(), taken in turn from LINE_POOL lines built before
//     the clock starts.
//   deno run -A bench/processes/log_process.ts records <count> <text|user>
//     End to end: <count> records of the shape through @std/log, routed by
//     setupProcessLogging(), as a spawned worker logs them.
//
// The clock runs from the first log call until flush() resolves, i.e. until
// the listener has acknowledged every record. Every YIELD_EVERY records the
// loop yields to the event loop for a turn, as a program that does I/O
// does: a process's socket is written (and its acknowledgements read) only
// there. The buffer is raised to 256 MiB so that a listener slower than
// the children (the end-to-end cases on 2 cores) never makes them drop a
// record: the worker path blocks instead, and the files must match.
import * as log from "@std/log";
import { LogRecord } from "@std/log/logger";
import { ProcessHandler, setupProcessLogging, textFormatter } from "@workerlog/workerlog/process";
import {
  epochMs,
  median,
  messageOf,
  peakRssMb,
  processCpuNs,
  type Shape,
  threadCpuNs,
  timedLoop,
  USER_LOGGER,
} from "../_shape.ts";

/** What the child prints. */
export interface ProcessFigures {
  /** When it made its first log call (epochMs()). */
  firstLogAt: number;
  /** From the first log call until the listener acknowledged the last record. */
  ms: number;
  /** Median µs per log call (yields not counted). */
  perCallUs: number;
  /** CPU (user + system) of the whole child process, ns. */
  cpuNs: number;
  /** CPU of the whole process while the clock ran (10 ms ticks), ns. */
  sendCpuNs: number;
  /** CPU of its main thread while the clock ran, ns. */
  sendMainCpuNs: number;
  peakRssMb: number;
  /** Bytes of text sent (lines mode: the lines with their "\n"). */
  textBytes: number;
  dropped: number;
}

const YIELD_EVERY = 8192;
const LINE_POOL = 65_536;
const MAX_BUFFER_BYTES = 256 * 1024 * 1024;

const [mode, countText, shapeText = "text"] = Deno.args;
const count = Number(countText);
const shape = shapeText as Shape;
if (!(mode === "lines" || mode === "records") || !Number.isInteger(count) || count < 1) {
  throw new Error("usage: log_process.ts lines <count> | records <count> <text|user>");
}

const handler = mode === "lines"
  ? new ProcessHandler("INFO", {
    address: Deno.env.get("WORKERLOG_ADDRESS")!,
    token: Deno.env.get("WORKERLOG_TOKEN")!,
    name: Deno.env.get("WORKERLOG_NAME"),
    maxBufferBytes: MAX_BUFFER_BYTES,
  })
  : setupProcessLogging({
    // Not the listener's lowest level from the environment: a listener
    // without handlers (bench/socket_bench.ts) would make that CRITICAL.
    level: "INFO",
    maxBufferBytes: MAX_BUFFER_BYTES,
    ...(shape === "user" ? { loggers: { [USER_LOGGER]: { level: "INFO" } } } : {}),
  });

let send: (i: number) => void;
let textBytes = 0;
if (mode === "lines") {
  const message = messageOf("text");
  const lines = Array.from(
    { length: Math.min(count, LINE_POOL) },
    (_, i) =>
      textFormatter(
        new LogRecord({ msg: message(i), args: [], level: 20, loggerName: "default" }),
      ),
  );
  for (let i = 0; i < count; i++) textBytes += lines[i % LINE_POOL].length + 1;
  send = (i) => handler.log(lines[i % LINE_POOL]);
} else {
  const logger = shape === "user" ? log.getLogger(USER_LOGGER) : log.getLogger();
  const message = messageOf(shape);
  send = (i) => logger.info(message(i));
}

const perCall: number[] = [];
const firstLogAt = epochMs();
const mainCpuBefore = threadCpuNs();
const cpuBefore = processCpuNs();
const started = performance.now();
for (let from = 0; from < count; from += YIELD_EVERY) {
  perCall.push(timedLoop(from, Math.min(from + YIELD_EVERY, count), send));
  await new Promise((resolve) => setTimeout(resolve, 0));
}
await handler.flush();
const ms = performance.now() - started;
const sendMainCpuNs = threadCpuNs() - mainCpuBefore;
const sendCpuNs = processCpuNs() - cpuBefore;
const figures: ProcessFigures = {
  firstLogAt,
  ms,
  perCallUs: median(perCall),
  cpuNs: processCpuNs(),
  sendCpuNs,
  sendMainCpuNs,
  peakRssMb: peakRssMb(),
  textBytes,
  dropped: handler.stats().dropped,
};
handler.close();
console.log(JSON.stringify(figures));
