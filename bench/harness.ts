// The end-to-end benchmark: every case writes the same N records to a fresh
// file, in its own process, R times; the median run of each is reported as a
// table, as JSON, and as an SVG bar chart. Ratios are to `direct` in the same
// run: the machine is shared and noisy, so only ratios compare across runs.
//
//   deno run -A bench/harness.ts [--records N] [--runs R] [--out bench/results.json]
//     [--cases direct,workerlog-4,...] [--skip-pino]
import type { CaseResult } from "./run_case.ts";

interface Case {
  name: string;
  workers: number;
  run: (file: string) => Promise<CaseResult | string>;
}

interface Row extends CaseResult {
  name: string;
  workers: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  vsDirect: number;
}

const here = new URL(".", import.meta.url);
const options = parseFlags(Deno.args);

const cases: Case[] = [
  denoCase("direct", "direct", 1),
  denoCase("workerlog-1", "workerlog", 1),
  denoCase("workerlog-2", "workerlog", 2),
  denoCase("workerlog-4", "workerlog", 4),
  denoCase("workerlog-preformat-4", "workerlog-preformat", 4),
  denoCase("naive-4", "naive", 4),
  pinoCase("pino-transport", "transport"),
  pinoCase("pino-destination", "destination"),
].filter((one) => options.cases === undefined || options.cases.includes(one.name));

const rows: Row[] = [];
const skipped: string[] = [];
for (const one of cases) {
  const runs: CaseResult[] = [];
  for (let run = 0; run < options.runs; run++) {
    const dir = await Deno.makeTempDir({ prefix: "workerlog_bench_" });
    try {
      const result = await one.run(`${dir}/out.log`);
      if (typeof result === "string") {
        skipped.push(`${one.name}: ${result}`);
        break;
      }
      const lines = await countLines(`${dir}/out.log`);
      if (lines !== result.records) {
        throw new Error(`${one.name} wrote ${lines} lines, not ${result.records}`);
      }
      runs.push(result);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  if (runs.length === 0) continue;
  const median = runs.sort((a, b) => a.seconds - b.seconds)[runs.length >> 1];
  rows.push({
    name: one.name,
    workers: one.workers,
    ...median,
    recordsPerSecond: median.records / median.seconds,
    mbPerSecond: median.bytes / median.seconds / 1e6,
    vsDirect: NaN,
  });
  console.error(`${one.name}: ${(median.records / median.seconds / 1e6).toFixed(2)} M records/s`);
}
const direct = rows.find((row) => row.name === "direct");
for (const row of rows) {
  row.vsDirect = direct ? row.recordsPerSecond / direct.recordsPerSecond : NaN;
}

const report = {
  date: new Date().toISOString(),
  machine: await describeMachine(),
  records: options.records,
  runs: options.runs,
  command: `deno run -A bench/harness.ts --records ${options.records} --runs ${options.runs}`,
  cases: rows,
  skipped,
};
await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2) + "\n");
const svg = options.out.replace(/\.json$/, "") + ".svg";
await Deno.writeTextFile(svg, chart(rows));

console.log(table(rows));
for (const reason of skipped) console.log(`skipped ${reason}`);
console.log(`\n${report.machine}\nwritten: ${options.out}, ${svg}`);

function denoCase(name: string, runCase: string, workers: number): Case {
  return {
    name,
    workers,
    run: async (file) => {
      const args = ["run", "--allow-all"];
      args.push(
        new URL("run_case.ts", here).pathname,
        runCase,
        String(options.records),
        String(workers),
        file,
      );
      return JSON.parse(await output(Deno.execPath(), args));
    },
  };
}

function pinoCase(name: string, mode: string): Case {
  return {
    name,
    workers: mode === "transport" ? 1 : 0,
    run: async (file) => {
      if (options.skipPino) return "--skip-pino";
      const node = await which("node");
      if (!node) return "Node.js is not on PATH";
      const pinoDir = new URL("pino/", here).pathname;
      if (!await exists(`${pinoDir}node_modules/pino`)) {
        try {
          await output("npm", ["install", "--no-audit", "--no-fund", "--prefix", pinoDir]);
        } catch (error) {
          return `could not install pino from npm (${(error as Error).message})`;
        }
      }
      return JSON.parse(
        await output(node, [`${pinoDir}pino_case.mjs`, mode, String(options.records), file]),
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

function table(rows: Row[]): string {
  const header =
    "| case | workers | records/s | MB/s | µs per log call (median) | peak RSS (MB) | vs direct |";
  const body = rows.map((row) =>
    `| ${row.name} | ${row.workers || "-"} | ${(row.recordsPerSecond / 1e6).toFixed(2)} M | ${
      row.mbPerSecond.toFixed(0)
    } | ${row.perCallUs.toFixed(2)} | ${row.peakRssMb.toFixed(0)} | ${row.vsDirect.toFixed(2)}x |`
  );
  return [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |", ...body].join("\n");
}

function chart(rows: Row[]): string {
  const barHeight = 26;
  const left = 190;
  const width = 760;
  const top = 40;
  const max = Math.max(...rows.map((row) => row.recordsPerSecond));
  const scale = (width - left - 130) / max;
  const bars = rows.map((row, i) => {
    const y = top + i * (barHeight + 8);
    const length = Math.max(1, row.recordsPerSecond * scale);
    const color = row.name.startsWith("workerlog")
      ? "#2f7d4f"
      : row.name === "direct"
      ? "#555"
      : "#9aa";
    return [
      `<text x="${left - 10}" y="${y + 18}" text-anchor="end">${row.name}</text>`,
      `<rect x="${left}" y="${y}" width="${
        length.toFixed(1)
      }" height="${barHeight}" fill="${color}"/>`,
      `<text x="${left + length + 8}" y="${y + 18}">${
        (row.recordsPerSecond / 1e6).toFixed(2)
      } M/s (${row.vsDirect.toFixed(2)}x)</text>`,
    ].join("");
  });
  const height = top + rows.length * (barHeight + 8) + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="22" font-weight="bold">Records per second into one file (${
    (options.records / 1e6).toLocaleString("en")
  } M records, higher is better)</text>
${bars.join("\n")}
</svg>
`;
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
  const records = Number(value("--records") ?? 1_000_000);
  const runs = Number(value("--runs") ?? 3);
  if (!Number.isInteger(records) || records < 4) {
    throw new Error("--records takes a whole number of at least 4");
  }
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error("--runs takes a whole number of at least 1");
  }
  return {
    records,
    runs,
    out: value("--out") ?? new URL("results.json", here).pathname,
    cases: value("--cases")?.split(","),
    skipPino: args.includes("--skip-pino"),
  };
}
