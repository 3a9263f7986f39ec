// The benchmarks run in CI only as a smoke check that they still execute:
// a small N, and no timing is asserted.
import { assert, assertEquals } from "@std/assert";
import { CHILD_DEADLINE_MS, tempDir } from "./_helpers.ts";
import { TRANSPORT_SCALE } from "../bench/_shape.ts";

const root = new URL("../", import.meta.url);

async function run(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(2 * CHILD_DEADLINE_MS), // every case's processes in turn
  }).output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  return out;
}

Deno.test("bench: the micro benchmarks execute", async () => {
  const out = await run(
    ["bench", "--allow-all", "--no-check", "bench/micro_bench.ts"],
    { BENCH_SMOKE: "1" },
  );
  for (
    const name of ["QueueHandler (records)", "textFormatter", "rebuild a batch of 512 records"]
  ) {
    assert(out.includes(name), `${name} did not run:\n${out}`);
  }
});

// One case of each kind of code path in bench/run_case.ts: direct logging,
// spawn() into FileHandler (the user shape, which is also the text path's
// code), preformat, the writer worker, naive postMessage, the raw ceiling,
// child processes over a socket end to end, and the transport alone.
// Few records: each case's start-up is most of its cost, and what the smoke
// checks (every file holds its lines, the tables and files are written)
// does not need more.
const RECORDS = 1_000;
const SMOKE_CASES = [
  "direct",
  "workerlog-preformat-4",
  "workerlog-writer-4",
  "naive-4",
  "user-direct",
  "user-workerlog-4",
  "user-ceiling",
  "user-process-4",
  "process-transport-unix",
];

Deno.test("bench: the harness runs each kind of case in rounds, checks its file (or count) and writes JSON and SVG", async () => {
  await using dir = await tempDir();
  const results = dir.file("results.json");
  const out = await run([
    "run",
    "--allow-all",
    "bench/harness.ts",
    "--records",
    String(RECORDS),
    "--rounds",
    "1",
    "--memory-records",
    String(RECORDS / 4),
    "--skip-pino",
    "--cases",
    SMOKE_CASES.join(","),
    "--out",
    results,
  ]);
  const report = JSON.parse(await Deno.readTextFile(results));
  assertEquals(report.cases.map((row: { name: string }) => row.name), SMOKE_CASES);
  for (const row of report.cases) {
    const sent = row.transportOnly ? RECORDS * TRANSPORT_SCALE : RECORDS;
    assertEquals(row.records, sent, row.name);
    assertEquals(row.runs.length, 1, row.name);
  }
  const byName = Object.fromEntries(report.cases.map((row: { name: string }) => [row.name, row]));
  assertEquals(byName["direct"].vsDirect, 1);
  assertEquals(byName["user-direct"].vsDirect, 1);
  assertEquals(byName["user-ceiling"].ofCeiling, 1);
  assertEquals(report.memory.records, RECORDS);
  // The processes are compared with their worker case; the transport has no file but a count.
  const processes = byName["user-process-4"];
  assert(processes.vsWorkers > 0 && processes.vsWorkersAfterStartup > 0, JSON.stringify(processes));
  assert(processes.runs[0].loggingSeconds < processes.runs[0].seconds);
  const transport = byName["process-transport-unix"];
  assertEquals(transport.runs[0].counted, RECORDS * TRANSPORT_SCALE);
  assertEquals(
    report.targets.map((target: { case: string }) => target.case),
    ["user-process-4", "process-transport-unix"],
  );
  assert(out.includes("| process-transport-unix | >= 1.50 M lines/s |"), out);
  assert(out.includes("| user-workerlog-4 | 4 |"), out);
  assert(out.includes("| workerlog-writer-4 | 4 |"), out);
  assert(out.includes("| naive-4 | 4 |"), out);
  assert(out.includes(`| memory-4x250 | ${RECORDS} |`), out);
  assert((await Deno.readTextFile(dir.file("results.svg"))).startsWith("<svg"));
});
