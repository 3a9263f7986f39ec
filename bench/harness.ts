// The end-to-end benchmark. Every case writes the same N records of its shape
// to a fresh file, in its own process; the cases alternate in rounds (round 1:
// A, B, C...; round 2: A, B, C...) so that the machine's moods hit them all
// alike. Per case: the median over rounds, the spread (min-max), and the ratio
// to `direct` of the same shape and the fraction of the raw ceiling, both
// taken within each round and then the median. Every file must hold exactly
// N lines. Then the memory case runs once. Output: a markdown table, JSON and
// an SVG chart. The machine is shared and noisy: compare ratios, not rates.
//
// The process cases: child processes log over a socket into a listener.
// `process-N` and `user-process-4` go end to end into the same FileHandler
// as `workerlog-N` and `user-workerlog-4`, and their "vs workers" is the
// ratio to that worker case in the same round; "after start-up" is the
// same ratio with each run timed from the first log call of its first
// worker or child (a Deno process takes far longer to start than a worker).
// `process-transport-unix`
// and `-tcp` are the transport alone (no handlers, no file: the listener
// must have received every line) and count lines per second. Both have
// targets, reported at the end.
//
//   deno run -A bench/harness.ts [--records N] [--rounds R] [--out bench/results.json]
//     [--cases direct,workerlog-4,...] [--skip-pino] [--skip-memory]
//     [--memory-records N] [--deno-flags "--v8-flags=--max-semi-space-size=1"]
import type { CaseResult } from "./run_case.ts";
import type { Shape } from "./_shape.ts";

type LineShape = Shape | "pino";

interface Case {
  name: string;
  shape: LineShape;
  workers: number;
  /** The worker case this one is compared with, round by round ("vs workers"). */
  vsWorkers?: string;
  /** No file: the transport alone (not compared with direct or the ceiling, not charted). */
  transportOnly?: boolean;
  /** The figures of one run, or why the case cannot run here. */
  run: (file: string, records: number) => Promise<CaseResult | string>;
}

interface Row {
  name: string;
  shape: LineShape;
  workers: number;
  rounds: number;
  records: number;
  recordsPerSecond: number;
  spread: { min: number; max: number };
  mbPerSecond: number;
  /** Median over rounds of (this case / direct of the same shape, same round). */
  vsDirect: number;
  /** Median over rounds of (this case / ceiling of the same shape, same round). */
  ofCeiling: number;
  /** Median over rounds of (this case / its worker case, same round); with the range. */
  vsWorkers: number;
  vsWorkersSpread?: { min: number; max: number };
  /** The same, each run timed from its first log call (without start-up). */
  vsWorkersAfterStartup: number;
  vsWorkersAfterStartupSpread?: { min: number; max: number };
  transportOnly: boolean;
  perCallUs: number;
  mainCpuUs: number;
  processCpuUs: number;
  /** Transport cases: the sending child's main-thread CPU per line while it sent. */
  senderMainCpuUs: number;
  peakRssMb: number;
  runs: CaseResult[];
}

const here = new URL(".", import.meta.url);
const options = parseFlags(Deno.args);
// The process cases start their children with the same flags (bench/run_case.ts).
Deno.env.set("BENCH_DENO_FLAGS", options.denoFlags.join(" "));
const BASELINE: Record<LineShape, string> = { text: "direct", user: "user-direct", pino: "direct" };
const CEILING: Record<LineShape, string> = {
  text: "ceiling",
  user: "user-ceiling",
  pino: "ceiling",
};
const MEMORY_TARGET_MB = 150;
/** Issue 10: the transport alone over a Unix socket, lines per second. */
const TRANSPORT_TARGET = 1.5e6;
/** Issue 10: processes end to end, as a share of the worker path in the same round. */
const PROCESS_TARGET = 0.8;

const allCases: Case[] = [
  denoCase("direct", "direct", "text", 1),
  denoCase("workerlog-1", "workerlog", "text", 1),
  denoCase("workerlog-2", "workerlog", "text", 2),
  denoCase("workerlog-4", "workerlog", "text", 4),
  denoCase("workerlog-preformat-4", "workerlog-preformat", "text", 4),
  denoCase("workerlog-writer-4", "workerlog-writer", "text", 4),
  denoCase("naive-4", "naive", "text", 4),
  pinoCase("pino-transport", "transport"),
  pinoCase("pino-destination", "destination"),
  denoCase("ceiling", "ceiling", "text", 0),
  denoCase("user-direct", "user-direct", "user", 1),
  denoCase("user-workerlog-4", "user-workerlog", "user", 4),
  denoCase("user-workerlog-preformat-4", "user-workerlog-preformat", "user", 4),
  denoCase("user-workerlog-writer-4", "user-workerlog-writer", "user", 4),
  denoCase("user-ceiling", "user-ceiling", "user", 0),
  denoCase("process-1", "process", "text", 1, { vsWorkers: "workerlog-1" }),
  denoCase("process-4", "process", "text", 4, { vsWorkers: "workerlog-4" }),
  denoCase("user-process-4", "user-process", "user", 4, { vsWorkers: "user-workerlog-4" }),
  denoCase("process-transport-unix", "process-transport-unix", "text", 1, { transportOnly: true }),
  denoCase("process-transport-tcp", "process-transport-tcp", "text", 1, { transportOnly: true }),
];
const unknown = options.cases?.filter((name) => !allCases.some((one) => one.name === name));
if (unknown?.length) {
  const known = allCases.map((one) => one.name).join(", ");
  throw new Error(`--cases: unknown ${unknown.join(", ")}; known: ${known}`);
}
const cases = allCases.filter((one) =>
  options.cases === undefined || options.cases.includes(one.name)
);

const results = new Map<string, CaseResult[]>(cases.map((one) => [one.name, []]));
const skipped = new Map<string, string>();
for (let round = 1; round <= options.rounds; round++) {
  for (const one of cases) {
    if (skipped.has(one.name)) continue;
    const result = await runChecked(one, options.records);
    if (typeof result === "string") skipped.set(one.name, result);
    else results.get(one.name)!.push(result);
  }
  console.error(`round ${round}/${options.rounds} done`);
}
const rows = summarize(cases, results);

const memoryCase = denoCase("memory-4x" + short(options.memoryRecords), "memory", "user", 4);
const memory = options.skipMemory
  ? undefined
  : await runChecked(memoryCase, options.memoryRecords * 4) as CaseResult;

const report = {
  date: new Date().toISOString(),
  machine: await describeMachine(),
  records: options.records,
  rounds: options.rounds,
  denoFlags: options.denoFlags,
  command: `deno run -A bench/harness.ts ${Deno.args.join(" ")}`.trim(),
  cases: rows,
  memory: memory && { ...memory, targetMb: MEMORY_TARGET_MB, workers: 4 },
  targets: targets(rows),
  skipped: Object.fromEntries(skipped),
};
await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2) + "\n");
const svg = options.out.replace(/\.json$/, "") + ".svg";
await Deno.writeTextFile(svg, chart(rows));
// As `deno fmt --check` wants them (it formats JSON and SVG); best effort.
await output(Deno.execPath(), ["fmt", "--quiet", options.out, svg]).catch(() => {});

console.log(table(rows));
if (rows.some((row) => row.transportOnly)) console.log("\n" + transportTable(rows));
if (report.targets.length > 0) console.log("\n" + targetTable(report.targets));
if (memory) console.log("\n" + memoryTable(memoryCase.name, memory));
for (const [name, reason] of skipped) console.log(`skipped ${name}: ${reason}`);
console.log(`\n${report.machine}\nwritten: ${options.out}, ${svg}`);

/** Runs a case once into a fresh file and checks that the file has exactly its records' lines. */
async function runChecked(one: Case, records: number): Promise<CaseResult | string> {
  const dir = await Deno.makeTempDir({ prefix: "workerlog_bench_" });
  try {
    const result = await one.run(`${dir}/out.log`, records);
    if (typeof result === "string") return result;
    if (result.counted !== undefined) {
      // No file: the listener's count of what it received.
      if (result.counted !== result.records) {
        throw new Error(
          `${one.name}: the listener received ${result.counted}, not ${result.records}`,
        );
      }
      return result;
    }
    const lines = await countLines(`${dir}/out.log`);
    if (lines !== result.records) {
      throw new Error(`${one.name} wrote ${lines} lines, not ${result.records}`);
    }
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function summarize(cases: Case[], results: Map<string, CaseResult[]>): Row[] {
  const rate = (result: CaseResult) => result.records / result.seconds;
  const rateAfterStartup = (result: CaseResult) => result.records / (result.loggingSeconds ?? NaN);
  // The ratios of a case to another, each in the same round.
  const ratios = (runs: CaseResult[], other: string | undefined, of = rate) => {
    const theirs = other === undefined ? [] : results.get(other) ?? [];
    if (theirs.length !== runs.length) return [];
    return runs.map((run, round) => of(run) / of(theirs[round]));
  };
  const spread = (values: number[]) =>
    values.length > 0 ? { min: Math.min(...values), max: Math.max(...values) } : undefined;
  // ... and their median over rounds.
  const perRound = (runs: CaseResult[], other: string) => median(ratios(runs, other));
  return cases.filter((one) => results.get(one.name)!.length > 0).map((one) => {
    const runs = results.get(one.name)!;
    const rates = runs.map(rate);
    const seconds = median(runs.map((run) => run.seconds));
    const vsWorkers = ratios(runs, one.vsWorkers);
    const afterStartup = ratios(runs, one.vsWorkers, rateAfterStartup);
    const transportOnly = one.transportOnly === true;
    return {
      name: one.name,
      shape: one.shape,
      workers: one.workers,
      rounds: runs.length,
      records: runs[0].records,
      recordsPerSecond: median(rates),
      spread: { min: Math.min(...rates), max: Math.max(...rates) },
      mbPerSecond: median(runs.map((run) => run.bytes)) / seconds / 1e6,
      vsDirect: transportOnly ? NaN : perRound(runs, BASELINE[one.shape]),
      ofCeiling: transportOnly ? NaN : perRound(runs, CEILING[one.shape]),
      vsWorkers: median(vsWorkers),
      vsWorkersSpread: spread(vsWorkers),
      vsWorkersAfterStartup: median(afterStartup),
      vsWorkersAfterStartupSpread: spread(afterStartup),
      transportOnly,
      perCallUs: median(runs.map((run) => run.perCallUs ?? NaN)),
      mainCpuUs: median(runs.map((run) => run.mainCpuUs ?? NaN)),
      processCpuUs: median(runs.map((run) => run.processCpuUs ?? NaN)),
      senderMainCpuUs: median(runs.map((run) => run.senderMainCpuUs ?? NaN)),
      peakRssMb: median(runs.map((run) => run.peakRssMb)),
      runs,
    };
  });
}

function denoCase(
  name: string,
  runCase: string,
  shape: Shape,
  workers: number,
  extra: Pick<Case, "vsWorkers" | "transportOnly"> = {},
): Case {
  return {
    name,
    shape,
    workers,
    ...extra,
    run: async (file, records) => {
      const args = ["run", "--allow-all", ...options.denoFlags];
      args.push(
        new URL("run_case.ts", here).pathname,
        runCase,
        String(records),
        String(Math.max(workers, 1)),
        file,
      );
      const result = JSON.parse(await output(Deno.execPath(), args));
      return result.skipped ?? result;
    },
  };
}

function pinoCase(name: string, mode: string): Case {
  return {
    name,
    shape: "pino",
    workers: mode === "transport" ? 1 : 0,
    run: async (file, records) => {
      if (options.skipPino) return "--skip-pino";
      const node = await which("node");
      if (!node) return "Node.js is not on PATH";
      const pinoDir = new URL("pino/", here).pathname;
      if (!await exists(`${pinoDir}node_modules/pino`)) {
        try {
          await output("npm", ["ci", "--no-audit", "--no-fund", "--prefix", pinoDir]);
        } catch (error) {
          return `could not install pino from npm (${(error as Error).message})`;
        }
      }
      return JSON.parse(
        await output(node, [`${pinoDir}pino_case.mjs`, mode, String(records), file]),
      );
    },
  };
}

async function output(command: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return text.trim().split("\n").at(-1)!;
}

async function countLines(path: string): Promise<number> {
  let lines = 0;
  using file = await Deno.open(path);
  for await (const chunk of file.readable) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

function median(values: number[]): number {
  const known = values.filter((value) => !Number.isNaN(value));
  if (known.length === 0) return NaN;
  const sorted = known.sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function fixed(value: number, digits: number, suffix = ""): string {
  return Number.isNaN(value) ? "-" : value.toFixed(digits) + suffix;
}

function millions(value: number): string {
  return (value / 1e6).toFixed(2);
}

function table(rows: Row[]): string {
  const header =
    "| case | workers | records/s | spread (min-max) | MB/s | vs direct | of ceiling |" +
    " vs workers | µs per log call (median) | main-thread CPU µs/record |" +
    " process CPU µs/record | peak RSS (MB) |";
  const body = rows.map((row) =>
    `| ${row.name} | ${row.workers || "-"} | ${millions(row.recordsPerSecond)} M | ${
      millions(row.spread.min)
    }-${millions(row.spread.max)} M | ${row.mbPerSecond.toFixed(0)} | ${
      fixed(row.vsDirect, 2, "x")
    } | ${fixed(row.ofCeiling * 100, 0, "%")} | ${fixed(row.vsWorkers, 2, "x")} | ${
      fixed(row.perCallUs, 2)
    } | ${fixed(row.mainCpuUs, 2)} | ${fixed(row.processCpuUs, 2)} | ${row.peakRssMb.toFixed(0)} |`
  );
  return [
    header,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ].concat(body).join("\n");
}

// The transport cases in CPU per line (steadier than rates on a busy machine).
function transportTable(rows: Row[]): string {
  const ns = (us: number) => fixed(us * 1000, 0);
  return [
    "| transport | lines/s (median, min-max) | sender main thread ns/line | listener main thread ns/line | both processes ns/line |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.filter((row) => row.transportOnly).map((row) =>
      `| ${row.name} | ${millions(row.recordsPerSecond)} M, ${millions(row.spread.min)}-${
        millions(row.spread.max)
      } M | ${ns(row.senderMainCpuUs)} | ${ns(row.mainCpuUs)} | ${ns(row.processCpuUs)} |`
    ),
  ].join("\n");
}

/** What issue 10 asks of the process cases, and whether this run met it. */
interface Target {
  case: string;
  target: string;
  /** The median, and the range over rounds. */
  median: number;
  min: number;
  max: number;
  unit: "lines/s" | "x";
  met: boolean;
  /** Process cases: the ratio without start-up (median and range), for comparison. */
  afterStartup?: { median: number; min: number; max: number };
}

function targets(rows: Row[]): Target[] {
  const out: Target[] = [];
  for (const row of rows) {
    if (row.name === "process-transport-unix") {
      out.push({
        case: row.name,
        target: `>= ${millions(TRANSPORT_TARGET)} M lines/s`,
        median: row.recordsPerSecond,
        ...row.spread,
        unit: "lines/s",
        met: row.recordsPerSecond >= TRANSPORT_TARGET,
      });
    } else if (row.vsWorkersSpread !== undefined) {
      const workers = cases.find((one) => one.name === row.name)!.vsWorkers;
      out.push({
        case: row.name,
        target: `>= ${PROCESS_TARGET}x ${workers}`,
        median: row.vsWorkers,
        ...row.vsWorkersSpread,
        unit: "x",
        met: row.vsWorkers >= PROCESS_TARGET,
        ...(row.vsWorkersAfterStartupSpread
          ? {
            afterStartup: { median: row.vsWorkersAfterStartup, ...row.vsWorkersAfterStartupSpread },
          }
          : {}),
      });
    }
  }
  return out;
}

function targetTable(targets: Target[]): string {
  const value = (target: Target, value: number) =>
    target.unit === "x" ? `${value.toFixed(2)}x` : `${millions(value)} M`;
  return [
    "| case | target | median | range over rounds | met | after start-up: median, range |",
    "| --- | --- | ---: | ---: | --- | ---: |",
    ...targets.map((target) =>
      `| ${target.case} | ${target.target} | ${value(target, target.median)} | ${
        value(target, target.min)
      }-${value(target, target.max)} | ${target.met ? "met" : "missed"} | ${
        target.afterStartup
          ? `${value(target, target.afterStartup.median)}, ${
            value(target, target.afterStartup.min)
          }-${value(target, target.afterStartup.max)}`
          : "-"
      } |`
    ),
  ].join("\n");
}

function memoryTable(name: string, result: CaseResult): string {
  const peaks = result.sampledPeaks;
  return [
    "| memory case | records | seconds | peak RSS (VmHWM, MB) | target | main heap peak used/total (MB) | workers' heaps at end (MB) | main-thread CPU µs/record |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${name} | ${result.records} | ${result.seconds.toFixed(2)} | ${
      result.peakRssMb.toFixed(0)
    } | < ${MEMORY_TARGET_MB} (${result.peakRssMb < MEMORY_TARGET_MB ? "met" : "missed"}) | ${
      peaks ? `${peaks.heapUsedMb.toFixed(0)}/${peaks.heapTotalMb.toFixed(0)}` : "-"
    } | ${fixed(result.workersHeapMb ?? NaN, 0)} | ${fixed(result.mainCpuUs, 2)} |`,
  ].join("\n");
}

function chart(all: Row[]): string {
  const rows = all.filter((row) => !row.transportOnly);
  const barHeight = 24;
  const left = 200;
  const width = 860;
  const top = 40;
  const max = Math.max(...rows.map((row) => row.spread.max));
  const scale = (width - left - 210) / max;
  const bars = rows.map((row, i) => {
    const y = top + i * (barHeight + 8);
    const length = Math.max(1, row.recordsPerSecond * scale);
    const color = row.name.includes("ceiling")
      ? "#c9b458"
      : row.name.includes("workerlog")
      ? "#2f7d4f"
      : row.name.includes("direct")
      ? "#555"
      : "#9aa";
    const whisker = `<line x1="${(left + row.spread.min * scale).toFixed(1)}" x2="${
      (left + row.spread.max * scale).toFixed(1)
    }" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#000" stroke-width="1.5"/>`;
    const label = `${millions(row.recordsPerSecond)} M/s, ${fixed(row.vsDirect, 2, "x")}, ${
      fixed(row.ofCeiling * 100, 0, "% of ceiling")
    }`;
    return [
      `<text x="${left - 10}" y="${y + 17}" text-anchor="end">${row.name}</text>`,
      `<rect x="${left}" y="${y}" width="${
        length.toFixed(1)
      }" height="${barHeight}" fill="${color}"/>`,
      whisker,
      `<text x="${(left + Math.max(length, row.spread.max * scale) + 8).toFixed(1)}" y="${
        y + 17
      }">${label}</text>`,
    ].join("");
  });
  const height = top + rows.length * (barHeight + 8) + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="22" font-weight="bold">Records per second into one file (${
    short(options.records)
  } records, median of ${options.rounds} rounds, line: min-max; higher is better)</text>
${bars.join("\n")}
<text x="${left}" y="${
    height - 10
  }" fill="#555">Ratios are to direct of the same shape (user-* to user-direct), in the same round.</text>
</svg>
`;
}

function short(count: number): string {
  return count >= 1e6 ? `${count / 1e6}M` : count >= 1e3 ? `${count / 1e3}k` : String(count);
}

async function describeMachine(): Promise<string> {
  const cpu = await Deno.readTextFile("/proc/cpuinfo").then(
    (text) => /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? "unknown CPU",
    () => "unknown CPU",
  );
  const node = await which("node").then((path) => path ? output(path, ["--version"]) : "none");
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os}; Deno ${Deno.version.deno}, Node ${node}`;
}

async function which(command: string): Promise<string | undefined> {
  try {
    return await output("sh", ["-c", `command -v ${command}`]);
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function parseFlags(args: string[]) {
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const whole = (flag: string, fallback: number, least: number) => {
    const number = Number(value(flag) ?? fallback);
    if (!Number.isInteger(number) || number < least) {
      throw new Error(`${flag} takes a whole number of at least ${least}`);
    }
    return number;
  };
  return {
    records: whole("--records", 400_000, 4),
    rounds: whole("--rounds", Number(value("--runs") ?? 5), 1),
    memoryRecords: whole("--memory-records", 1_000_000, 1),
    out: value("--out") ?? new URL("results.json", here).pathname,
    cases: value("--cases")?.split(","),
    skipPino: args.includes("--skip-pino"),
    skipMemory: args.includes("--skip-memory"),
    denoFlags: value("--deno-flags")?.split(" ").filter(Boolean) ?? [],
  };
}
