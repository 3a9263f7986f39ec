// Runs one benchmark case in this process and prints its figures as JSON.
// The harness starts one process per case, so that each has its own peak RSS.
//
//   deno run -A bench/run_case.ts <case> <records> <workers> <file>
import { FileHandler, Logger, type LogLevel } from "@std/log";
import { BatchFileHandler, spawn, textFormatter, WorkerLogRecord } from "@workerlog/workerlog";
import { median, message, peakRssMb, timedLoop } from "./_shape.ts";

export interface CaseResult {
  records: number;
  seconds: number;
  bytes: number;
  perCallUs: number;
  peakRssMb: number;
}

const [name, recordsArg, workersArg, file] = Deno.args;
const records = Number(recordsArg);
const workers = Number(workersArg);
const perWorker = Math.floor(records / workers);

const cases: Record<string, () => Promise<number>> = {
  // @std/log on the main thread, no workers: what users have today.
  direct: () => {
    const handler = new FileHandler("INFO", { filename: file, formatter: textFormatter });
    handler.setup();
    const logger = new Logger("default", "INFO", { handlers: [handler] });
    const perCallUs = timedLoop(0, records, (i) => logger.info(message(i)));
    handler.destroy();
    return Promise.resolve(perCallUs);
  },
  // spawn() into @std/log's FileHandler; the listener formats.
  workerlog: () =>
    spawnCase(new FileHandler("INFO", { filename: file, formatter: textFormatter }), false),
  // The workers format; the listener only writes whole batches of lines.
  "workerlog-preformat": () => spawnCase(new BatchFileHandler("INFO", { filename: file }), true),
  // One postMessage per record, by hand.
  naive: naiveCase,
};

async function spawnCase(handler: FileHandler | BatchFileHandler, preformat: boolean) {
  const tuning = Deno.env.get("BENCH_TUNING");
  const perCallUs = await spawn<number>(new URL("./workers/log_worker.ts", import.meta.url), {
    count: workers,
    args: { records: perWorker },
    handlers: [handler],
    preformat,
    ...(tuning ? JSON.parse(tuning) : {}),
  });
  return median(perCallUs);
}

async function naiveCase(): Promise<number> {
  const handler = new FileHandler("INFO", { filename: file, formatter: textFormatter });
  handler.setup();
  const results = await Promise.all(Array.from({ length: workers }, (_, index) => {
    const worker = new Worker(new URL("./workers/naive_worker.ts", import.meta.url), {
      type: "module",
    });
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
  }));
  handler.destroy();
  return median(results);
}

const run = cases[name];
if (!run) throw new Error(`unknown case ${name}; one of ${Object.keys(cases).join(", ")}`);
const started = performance.now();
const perCallUs = await run();
const seconds = (performance.now() - started) / 1000;
const written = name === "direct" ? records : perWorker * workers;
const result: CaseResult = {
  records: written,
  seconds,
  bytes: (await Deno.stat(file)).size,
  perCallUs,
  peakRssMb: peakRssMb(),
};
console.log(JSON.stringify(result));
