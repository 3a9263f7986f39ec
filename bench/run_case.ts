// Runs one benchmark case in this process and prints its figures as JSON
// (or `{"skipped": "<why>"}`). The harness starts one process per case run,
// so that each has its own peak RSS and its own main-thread CPU time.
//
//   deno run -A bench/run_case.ts <case> <records> <workers> <file>
//
// The process cases start child processes (bench/processes/log_process.ts)
// that log over a socket into a listener in this process: "process" and
// "user-process" end to end into a FileHandler, timed like spawn() from
// start to every record written; "process-transport-unix" and
// "process-transport-tcp" transport only (no handlers, no file), timed in
// the child from its first log call to the last acknowledgement; they send
// TRANSPORT_SCALE times <records> lines, as a run of a few tenths of a
// second says little on a busy machine.
//
// BENCH_TUNING='{"batchSize":1024}' merges into spawn()'s options.
// BENCH_CPU_PROFILE=out.cpuprofile profiles the main thread over the measured
// part (Deno 2.9 has no --cpu-prof; node:inspector's Session works) and
// prints its top self times per record to stderr.
import { Session } from "node:inspector";
import { FileHandler, Logger, type LogLevel } from "@std/log";
import { LogRecord } from "@std/log/logger";
import {
  BatchFileHandler,
  QueueListener,
  spawn,
  type SpawnOptions,
  textFormatter,
  WorkerLogRecord,
} from "@workerlog/workerlog";
import {
  epochMs,
  heapFigures,
  median,
  messageOf,
  peakRssMb,
  processCpuNs,
  type Shape,
  threadCpuNs,
  timedLoop,
  TRANSPORT_SCALE,
  USER_LOGGER,
  userFormatter,
  type WorkerFigures,
} from "./_shape.ts";
import type { ProcessFigures } from "./processes/log_process.ts";

// ---------------------------------------------------------------------------
// HOOK (writer worker): once the library has an option that runs the writing
// in a dedicated writer worker, set it here, e.g.
//   const WRITER_WORKER: Partial<SpawnOptions> | undefined = { listenerOptions: { writer: "worker" } };
// and the cases "workerlog-writer-4" and "user-workerlog-writer-4" run it.
// Until then they are reported as skipped, never faked.
const WRITER_WORKER: Partial<SpawnOptions> | undefined = {
  handlers: undefined,
  writer: new URL("./workers/writer_handlers.ts", import.meta.url),
  listenerOptions: {
    args: { file: Deno.args[3], shape: Deno.args[0].startsWith("user") ? "user" : "text" },
  },
};
// ---------------------------------------------------------------------------

/** What one run of a case measured. */
export interface CaseResult {
  records: number;
  seconds: number;
  bytes: number;
  /** Median µs per log call in the thread that logs (NaN: no log calls). */
  perCallUs: number;
  peakRssMb: number;
  /** CPU µs the main thread spent per record, from its schedstat. */
  mainCpuUs: number;
  /** CPU µs the whole process spent per record (all threads). */
  processCpuUs: number;
  /** The main isolate's V8 heap at the end (MB). */
  mainHeapMb: number;
  /** The largest main-thread heap and RSS sampled during the run (memory case only). */
  sampledPeaks?: { heapUsedMb: number; heapTotalMb: number; rssMb: number; externalMb: number };
  /** The workers' V8 heaps when they finished, summed (MB). */
  workersHeapMb?: number;
  /**
   * Spawned and process cases: from the first log call of any worker or
   * child until the end, i.e. without the start-up before it.
   */
  loggingSeconds?: number;
  /**
   * Cases without a file (transport only): the records the listener
   * received, which the harness checks instead of counting lines.
   */
  counted?: number;
  /** Process cases: the child processes' peak RSS, summed (MB); included in peakRssMb. */
  childrenPeakRssMb?: number;
  /** Transport cases: the sending child's main-thread CPU per line while it sent, µs. */
  senderMainCpuUs?: number;
}

/** How one case runs: setup outside the clock, then the measured part. */
type Prepared = () => Promise<number>;

const LOG_WORKER = new URL("./workers/log_worker.ts", import.meta.url);
const USER_WORKER = new URL("./workers/user_worker.ts", import.meta.url);
const NAIVE_WORKER = new URL("./workers/naive_worker.ts", import.meta.url);
const LOG_PROCESS = new URL("./processes/log_process.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);
/** The harness's --deno-flags, for the child processes too. */
const childFlags = Deno.env.get("BENCH_DENO_FLAGS")?.split(" ").filter(Boolean) ?? [];
const CEILING_BUFFER = 64 * 1024;

const [name, recordsArg, workersArg, file] = Deno.args;
const records = Number(recordsArg);
const workers = Number(workersArg);
const perWorker = Math.floor(records / workers);
let workersHeapMb: number | undefined;
/** When the first worker or child process made its first log call (epoch ms). */
let firstLogAt: number | undefined;
/** What the child processes of a process case reported. */
let children: ProcessFigures[] | undefined;
/** A clock other than the one around the case (transport: the child's). */
let measuredSeconds: number | undefined;
/** The listener's count of received records (cases without a file). */
let counted: number | undefined;

const formatterOf = (shape: Shape) => shape === "user" ? userFormatter : textFormatter;
const fileHandler = (shape: Shape) =>
  new FileHandler("INFO", { filename: file, formatter: formatterOf(shape) });

const cases: Record<string, () => Prepared | string> = {
  // @std/log on the main thread, no workers: what users have today.
  direct: () => directCase("text"),
  "user-direct": () => directCase("user"),
  // spawn() into @std/log's FileHandler; the listener formats.
  workerlog: () => spawnCase("text", fileHandler("text")),
  "user-workerlog": () => spawnCase("user", fileHandler("user")),
  // The workers format; the listener only writes whole batches of lines.
  "workerlog-preformat": () =>
    spawnCase("text", new BatchFileHandler("INFO", { filename: file }), { preformat: true }),
  // The user's formatter in the workers (the module's `formatter` export).
  "user-workerlog-preformat": () =>
    spawnCase("user", new BatchFileHandler("INFO", { filename: file }), { preformat: true }),
  // The writing in a dedicated writer worker (see the HOOK above).
  "workerlog-writer": () => writerCase("text"),
  "user-workerlog-writer": () => writerCase("user"),
  // One postMessage per record, by hand.
  naive: naiveCase,
  // Pre-formatted lines, encoded into a 64 KiB buffer, one write per buffer.
  ceiling: () => ceilingCase("text"),
  "user-ceiling": () => ceilingCase("user"),
  // Child processes send over a socket to a listener here, into FileHandler.
  process: () => processCase("text"),
  "user-process": () => processCase("user"),
  // The socket alone: preformatted lines, a listener without handlers.
  "process-transport-unix": () => transportCase("unix"),
  "process-transport-tcp": () => transportCase("tcp"),
  // The user shape with default settings, sampling the main thread's memory.
  memory: () => spawnCase("user", fileHandler("user"), {}, true),
};

function directCase(shape: Shape): Prepared {
  const handler = fileHandler(shape);
  handler.setup();
  const logger = new Logger(shape === "user" ? USER_LOGGER : "default", "INFO", {
    handlers: [handler],
  });
  const log = messageOf(shape);
  return () => {
    const perCallUs = timedLoop(0, records, (i) => logger.info(log(i)));
    handler.destroy();
    return Promise.resolve(perCallUs);
  };
}

function spawnCase(
  shape: Shape,
  handler: FileHandler | BatchFileHandler,
  extra: Partial<SpawnOptions> = {},
  sample = false,
): Prepared {
  const tuning = Deno.env.get("BENCH_TUNING");
  return async () => {
    const sampler = sample ? sampleMemory() : undefined;
    try {
      const figures = await spawn<WorkerFigures>(shape === "user" ? USER_WORKER : LOG_WORKER, {
        count: workers,
        args: { records: perWorker, shape },
        handlers: [handler],
        ...(shape === "user" ? { loggers: { [USER_LOGGER]: { level: "INFO" } } } : {}),
        ...extra,
        ...(tuning ? JSON.parse(tuning) : {}),
      });
      workersHeapMb = figures.reduce((sum, one) => sum + one.heapTotalMb, 0);
      firstLogAt = Math.min(...figures.map((one) => one.firstLogAt));
      return median(figures.map((one) => one.perCallUs));
    } finally {
      sampler?.stop();
    }
  };
}

/**
 * `workers` child processes log `perWorker` records each, over a Unix
 * socket, into a listener in this process that writes them with the same
 * FileHandler as the spawned cases. Timed like spawn(): from creating the
 * listener until every child has exited (each after its flush() resolved,
 * i.e. after its records were written) and the listener has stopped.
 */
function processCase(shape: Shape): Prepared {
  const handler = fileHandler(shape);
  return async () => {
    const listener = new QueueListener([handler], { handleSignals: false }).start();
    try {
      const { env } = await listener.listen();
      children = await runChildren(env, workers, ["records", String(perWorker), shape]);
      firstLogAt = Math.min(...children.map((child) => child.firstLogAt));
    } finally {
      await listener.stop();
    }
    return median(children.map((child) => child.perCallUs));
  };
}

/**
 * One child process sends `records` preformatted lines to a listener in
 * this process that has no handlers: encoding, the socket, decoding,
 * dedupe and acknowledgements. Timed in the child (see log_process.ts);
 * the listener must have received every line.
 */
function transportCase(transport: "unix" | "tcp"): Prepared {
  return async () => {
    await using listener = new QueueListener([], { handleSignals: false }).start();
    const { env } = await listener.listen({ transport });
    children = await runChildren(env, 1, ["lines", String(records * TRANSPORT_SCALE)]);
    measuredSeconds = children[0].ms / 1000;
    counted = listener.stats().received;
    return children[0].perCallUs;
  };
}

/** Starts `count` children with the listener's env, waits for all and returns their figures. */
async function runChildren(
  env: Record<string, string>,
  count: number,
  args: string[],
): Promise<ProcessFigures[]> {
  const runs = Array.from({ length: count }, async (_, index) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        ...childFlags,
        "--config",
        CONFIG.pathname,
        LOG_PROCESS.pathname,
        ...args,
      ],
      env: { ...env, WORKERLOG_NAME: `process-${index}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`process-${index} failed (${code}): ${new TextDecoder().decode(stderr)}`);
    }
    const figures: ProcessFigures = JSON.parse(
      new TextDecoder().decode(stdout).trim().split("\n").at(-1)!,
    );
    if (figures.dropped > 0) throw new Error(`process-${index} dropped ${figures.dropped}`);
    return figures;
  });
  return await Promise.all(runs);
}

function writerCase(shape: Shape): Prepared | string {
  if (WRITER_WORKER === undefined) {
    return "the library has no writer-worker option yet (HOOK in bench/run_case.ts)";
  }
  return spawnCase(shape, fileHandler(shape), WRITER_WORKER);
}

function naiveCase(): Prepared {
  const handler = fileHandler("text");
  handler.setup();
  return async () => {
    const results = await Promise.all(
      Array.from({ length: workers }, (_, index) => naiveWorker(handler, index)),
    );
    handler.destroy();
    return median(results);
  };
}

function naiveWorker(handler: FileHandler, index: number): Promise<number> {
  const worker = new Worker(NAIVE_WORKER, { type: "module" });
  let seq = 0;
  return new Promise<number>((resolve) => {
    worker.onmessage = ({ data }) => {
      if (data.done) {
        worker.terminate();
        resolve(data.medianUs);
        return;
      }
      handler.handle(
        new WorkerLogRecord({
          msg: data.msg,
          args: [],
          level: data.level as LogLevel,
          loggerName: data.loggerName,
          datetime: data.time,
          worker: `worker-${index}`,
          seq: seq++,
        }),
      );
    };
    worker.postMessage({ records: perWorker });
  });
}

/**
 * The most any case could do on this machine: the lines are formatted
 * before the clock starts; the clock sees only encoding and writing.
 */
function ceilingCase(shape: Shape): Prepared {
  const format = formatterOf(shape);
  const log = messageOf(shape);
  const loggerName = shape === "user" ? USER_LOGGER : "default";
  const lines = Array.from(
    { length: records },
    (_, i) => format(new LogRecord({ msg: log(i), args: [], level: 20, loggerName })) + "\n",
  );
  return () => {
    using out = Deno.openSync(file, { create: true, write: true, truncate: true });
    const encoder = new TextEncoder();
    const buffer = new Uint8Array(CEILING_BUFFER);
    let used = 0;
    for (const line of lines) {
      let done = encoder.encodeInto(line, buffer.subarray(used));
      if (done.read < line.length) {
        writeAll(out, buffer.subarray(0, used));
        used = 0;
        done = encoder.encodeInto(line, buffer);
      }
      used += done.written;
    }
    writeAll(out, buffer.subarray(0, used));
    return Promise.resolve(NaN);
  };
}

function writeAll(out: Deno.FsFile, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += out.writeSync(bytes.subarray(at));
}

/** Samples the main thread's memory every 20 ms (between the listener's tasks). */
function sampleMemory() {
  const peaks = { heapUsedMb: 0, heapTotalMb: 0, rssMb: 0, externalMb: 0 };
  const take = () => {
    const now = Deno.memoryUsage();
    peaks.heapUsedMb = Math.max(peaks.heapUsedMb, now.heapUsed / 2 ** 20);
    peaks.heapTotalMb = Math.max(peaks.heapTotalMb, now.heapTotal / 2 ** 20);
    peaks.rssMb = Math.max(peaks.rssMb, now.rss / 2 ** 20);
    peaks.externalMb = Math.max(peaks.externalMb, now.external / 2 ** 20);
  };
  const timer = setInterval(take, 20);
  sampledPeaks = peaks;
  return {
    stop() {
      clearInterval(timer);
      take();
    },
  };
}
let sampledPeaks: CaseResult["sampledPeaks"];

const make = cases[name];
if (!make) throw new Error(`unknown case ${name}; one of ${Object.keys(cases).join(", ")}`);
const prepared = make();
if (typeof prepared === "string") {
  console.log(JSON.stringify({ skipped: prepared }));
} else {
  const profiler = Deno.env.get("BENCH_CPU_PROFILE") ? await startProfiler() : undefined;
  const cpuBefore = threadCpuNs();
  const processBefore = processCpuNs();
  const started = performance.now();
  const perCallUs = await prepared();
  const ended = epochMs();
  const seconds = measuredSeconds ?? (performance.now() - started) / 1000;
  const mainCpuNs = threadCpuNs() - cpuBefore;
  const processNs = processCpuNs() - processBefore;
  await profiler?.stop();
  const written = name.includes("transport")
    ? records * TRANSPORT_SCALE
    : name.includes("direct") || name.includes("ceiling")
    ? records
    : perWorker * workers;
  // Child processes count in: their CPU in the process CPU, their memory in the peak RSS.
  const sum = (of: (child: ProcessFigures) => number) =>
    (children ?? []).reduce((total, child) => total + of(child), 0);
  const childrenPeakRssMb = children && sum((child) => child.peakRssMb);
  const result: CaseResult = {
    records: written,
    seconds,
    bytes: counted === undefined ? (await Deno.stat(file)).size : sum((child) => child.textBytes),
    perCallUs,
    peakRssMb: peakRssMb() + (childrenPeakRssMb ?? 0),
    mainCpuUs: mainCpuNs / 1000 / written,
    // Transport: the child while it sent (not its start-up, nor building the lines).
    processCpuUs: (processNs + sum((child) =>
      counted === undefined ? child.cpuNs : child.sendCpuNs
    )) /
      1000 / written,
    mainHeapMb: heapFigures().heapTotalMb,
    ...(sampledPeaks ? { sampledPeaks } : {}),
    ...(workersHeapMb === undefined ? {} : { workersHeapMb }),
    ...(counted === undefined
      ? {}
      : { counted, senderMainCpuUs: sum((child) => child.sendMainCpuNs) / 1000 / written }),
    ...(childrenPeakRssMb === undefined ? {} : { childrenPeakRssMb }),
    ...(firstLogAt === undefined || measuredSeconds !== undefined
      ? {}
      : { loggingSeconds: (ended - firstLogAt) / 1000 }),
  };
  console.log(JSON.stringify(result));
  profiler?.report(written);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Samples the main thread with V8's profiler, every 100 µs. */
async function startProfiler() {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, value) => error ? reject(error) : resolve(value))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  let profile: Profile | undefined;
  return {
    async stop() {
      profile = ((await post("Profiler.stop")) as { profile: Profile }).profile;
      session.disconnect();
      await Deno.writeTextFile(Deno.env.get("BENCH_CPU_PROFILE")!, JSON.stringify(profile));
    },
    /** Prints the 25 functions with the most self time, in µs per record. */
    report(records: number) {
      const byId = new Map(profile!.nodes.map((node) => [node.id, node]));
      const self = new Map<string, number>();
      profile!.samples.forEach((id, at) => {
        const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
        const where = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${
          lineNumber + 1
        }`;
        self.set(where, (self.get(where) ?? 0) + (profile!.timeDeltas[at] ?? 0));
      });
      const total = [...self.values()].reduce((sum, us) => sum + us, 0);
      console.error(`main thread, ${(total / 1000).toFixed(0)} ms sampled; self time:`);
      console.error("| µs/record | share | function |\n| ---: | ---: | --- |");
      for (const [where, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
        console.error(
          `| ${(us / records).toFixed(3)} | ${(us / total * 100).toFixed(1)}% | ${where} |`,
        );
      }
    },
  };
}
