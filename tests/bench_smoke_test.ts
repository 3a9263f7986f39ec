// The benchmarks run in CI only as a smoke check that they still execute:
// a small N, and no timing is asserted.
import { assert, assertEquals } from "@std/assert";
import { tempDir } from "./_helpers.ts";

const root = new URL("../", import.meta.url);

async function run(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  return out;
}

Deno.test("bench: the micro benchmarks execute", async () => {
  const out = await run(
    ["bench", "--allow-all", "bench/micro_bench.ts"],
    { BENCH_SMOKE: "1" },
  );
  for (
    const name of ["QueueHandler (records)", "textFormatter", "rebuild a batch of 512 records"]
  ) {
    assert(out.includes(name), `${name} did not run:\n${out}`);
  }
});

Deno.test("bench: the harness runs every Deno case, checks its file and writes JSON and SVG", async () => {
  await using dir = await tempDir();
  const results = dir.file("results.json");
  const out = await run([
    "run",
    "--allow-all",
    "bench/harness.ts",
    "--records",
    "4000",
    "--runs",
    "1",
    "--skip-pino",
    "--out",
    results,
  ]);
  const report = JSON.parse(await Deno.readTextFile(results));
  assertEquals(
    report.cases.map((row: { name: string }) => row.name),
    ["direct", "workerlog-1", "workerlog-2", "workerlog-4", "workerlog-preformat-4", "naive-4"],
  );
  for (const row of report.cases) assertEquals(row.records, 4000);
  assert(out.includes("| workerlog-4 | 4 |"), out);
  assert((await Deno.readTextFile(dir.file("results.svg"))).startsWith("<svg"));
});
