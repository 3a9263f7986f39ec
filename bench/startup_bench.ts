// Start-up: from spawn() to the first record written, against Deno's own
// cost of starting workers (`new Worker()` of an empty module, or of one that
// loads the @std/log package, and a first postMessage round trip).
//
//   deno run -A bench/startup_bench.ts [--rounds R] [--workers 1,4,16]
//
// Every measurement runs in a fresh process (a warm module cache, as any run
// after the first), the cases alternated in rounds; medians over rounds.
// Figures per case and worker count, in ms from the first call:
//   first   the first record written (spawn) / the first answer (bare)
//   all     every worker's first record written / every worker's answer
//   mainCpu the main thread's CPU until then (its schedstat; `new Worker()`
//           runs on it, synchronously)
//   done    spawn() resolved (spawn only)
//   isolate the first worker's isolate began (its performance.timeOrigin)
//   loaded  the first worker's own module was evaluated (for spawn: after the
//           bootstrap's graph, setupWorkerLogging() and the start message)
import { BaseHandler, type LogRecord } from "@std/log";
import { spawn } from "@workerlog/workerlog";

const CASES = ["bare-empty", "bare-stdlog", "spawn", "spawn-writer"] as const;
type CaseName = typeof CASES[number];
interface Figures {
  first: number;
  all: number;
  mainCpu: number;
  done?: number;
  /** The first worker's isolate began / its module (the user's) was evaluated. */
  isolate?: number;
  loaded?: number;
}

const here = (path: string) => new URL(path, import.meta.url);

class FirstRecords extends BaseHandler {
  firstAt = 0;
  allAt = 0;
  cpuAtAll = 0;
  isolate = 0;
  loaded = 0;
  seen = new Set<string>();
  constructor(readonly count: number, readonly started: number, readonly cpu: number) {
    super("INFO");
  }
  override handle(record: LogRecord): void {
    const worker = (record as LogRecord & { worker: string }).worker;
    if (this.seen.size === 0) {
      this.firstAt = performance.now() - this.started;
      const { origin, loaded } = record.args[0] as { origin: number; loaded: number };
      this.isolate = origin - performance.timeOrigin - this.started;
      this.loaded = loaded - performance.timeOrigin - this.started;
    }
    this.seen.add(worker);
    if (this.seen.size === this.count && this.allAt === 0) {
      this.allAt = performance.now() - this.started;
      this.cpuAtAll = threadCpuMs() - this.cpu;
    }
  }
  log(_msg: string): void {}
}

if (Deno.args[0] === "--one") {
  const figures = await runOne(Deno.args[1] as CaseName, Number(Deno.args[2]));
  console.log(JSON.stringify(figures));
  Deno.exit(0);
}

const rounds = Number(option("--rounds") ?? 7);
const counts = (option("--workers") ?? "1,4,16").split(",").map(Number);
const results = new Map<string, Figures[]>();
for (let round = 0; round < rounds; round++) {
  for (const count of counts) {
    for (const name of CASES) {
      const key = `${name} ${count}`;
      const list = results.get(key) ?? [];
      list.push(await inChild(name, count));
      results.set(key, list);
    }
  }
}
console.log(
  `| case | workers | first (ms) | all (ms) | main CPU (ms) | spawn done (ms) | isolate up (ms) | module loaded (ms) |`,
);
console.log(
  `| ---- | ------: | ---------: | -------: | ----------------: | --------------: | --: | --: |`,
);
for (const [key, list] of results) {
  const [name, count] = key.split(" ");
  const med = (pick: (f: Figures) => number | undefined) => {
    const values = list.map(pick).filter((v): v is number => typeof v === "number").sort((a, b) =>
      a - b
    );
    return values.length === 0 ? "" : values[Math.floor(values.length / 2)].toFixed(1);
  };
  console.log(
    `| ${name} | ${count} | ${med((f) => f.first)} | ${med((f) => f.all)} | ${
      med((f) => f.mainCpu)
    } | ${med((f) => f.done)} | ${med((f) => f.isolate)} | ${med((f) => f.loaded)} |`,
  );
}

async function inChild(name: CaseName, count: number): Promise<Figures> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--one", name, String(count)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`${name} ${count}: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

async function runOne(name: CaseName, count: number): Promise<Figures> {
  if (name === "bare-empty" || name === "bare-stdlog") {
    return await bare(
      here(`./workers/startup_${name === "bare-empty" ? "empty" : "stdlog"}_worker.ts`),
      count,
    );
  }
  return await spawned(count, name === "spawn-writer");
}

function threadCpuMs(): number {
  return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]) / 1e6;
}

async function bare(module: URL, count: number): Promise<Figures> {
  const cpu = threadCpuMs();
  const started = performance.now();
  let first = 0;
  let answered = 0;
  let isolate: number | undefined;
  let loaded: number | undefined;
  const all = Promise.withResolvers<void>();
  const workers: Worker[] = [];
  for (let i = 0; i < count; i++) {
    const worker = new Worker(module, { type: "module" });
    worker.onmessage = ({ data }) => {
      if (answered++ === 0) {
        first = performance.now() - started;
        if (data?.origin) {
          isolate = data.origin - performance.timeOrigin - started;
          loaded = data.loaded - performance.timeOrigin - started;
        }
      }
      if (answered === count) all.resolve();
    };
    worker.postMessage(0);
    workers.push(worker);
  }
  await all.promise;
  const figures = {
    first,
    all: performance.now() - started,
    mainCpu: threadCpuMs() - cpu,
    isolate,
    loaded,
  };
  for (const worker of workers) worker.terminate();
  return figures;
}

async function spawned(count: number, writer: boolean): Promise<Figures> {
  const module = here("./workers/startup_log_worker.ts");
  if (writer) {
    // The writer's handler is in another thread: its file says when.
    const file = await Deno.makeTempFile();
    const cpu = threadCpuMs();
    const started = performance.now();
    await spawn(module, {
      count,
      writer: here("./workers/writer_handlers.ts"),
      listenerOptions: { args: { file, shape: "text" } },
    });
    const done = performance.now() - started;
    const mainCpu = threadCpuMs() - cpu;
    await Deno.remove(file);
    return { first: NaN, all: NaN, mainCpu, done };
  }
  const cpu = threadCpuMs();
  const started = performance.now();
  const handler = new FirstRecords(count, started, cpu);
  await spawn(module, { count, handlers: [handler] });
  const done = performance.now() - started;
  return {
    first: handler.firstAt,
    all: handler.allAt,
    mainCpu: handler.cpuAtAll,
    done,
    isolate: handler.isolate,
    loaded: handler.loaded,
  };
}

function option(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at === -1 ? undefined : Deno.args[at + 1];
}
