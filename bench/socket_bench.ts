// The transport alone, quickly: a child process (bench/processes/log_process.ts)
// sends N preformatted lines, or N records, to a listener in this process
// that has no handlers, so what is measured is encoding, the socket,
// decoding, dedupe and acknowledgements (and, for records, rebuilding each
// record). Timed in the child, from its first log call until flush()
// resolves, i.e. until the listener has acknowledged everything. The runs
// alternate in rounds; the summary gives the median and the range.
// `deno run -A bench/harness.ts --cases process-transport-unix,process-transport-tcp`
// measures the same lines beside the other cases.
//
//   deno run --allow-all bench/socket_bench.ts [records=2000000] [rounds=3]
import { QueueListener } from "../mod.ts";
import { median } from "./_shape.ts";
import type { ProcessFigures } from "./processes/log_process.ts";

const count = Number(Deno.args[0] ?? 2_000_000);
const rounds = Number(Deno.args[1] ?? 3);
const child = new URL("./processes/log_process.ts", import.meta.url).pathname;
const config = new URL("../deno.json", import.meta.url).pathname;
const runs = [
  { mode: "lines", transport: "unix" },
  { mode: "lines", transport: "tcp" },
  { mode: "records", transport: "unix" },
] as const;

await using unix = new QueueListener([], { handleSignals: false }).start();
await using tcp = new QueueListener([], { handleSignals: false }).start();
const listeners = { unix, tcp };
const envs = {
  unix: (await unix.listen()).env,
  tcp: (await tcp.listen({ transport: "tcp" })).env,
};
const rates = new Map<string, number[]>(runs.map((run) => [`${run.mode} ${run.transport}`, []]));
for (let round = 1; round <= rounds; round++) {
  for (const { mode, transport } of runs) {
    const listener = listeners[transport];
    const before = listener.stats().received;
    const { stdout, stderr, code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--config", config, child, mode, String(count)],
      env: { ...envs[transport], WORKERLOG_NAME: `${mode}-${transport}-${round}` },
    }).output();
    if (code !== 0) throw new Error(`the child failed: ${new TextDecoder().decode(stderr)}`);
    const figures: ProcessFigures = JSON.parse(new TextDecoder().decode(stdout));
    const received = listener.stats().received - before;
    if (received !== count || figures.dropped !== 0) {
      throw new Error(`received ${received} of ${count} (dropped ${figures.dropped})`);
    }
    const rate = count / figures.ms * 1000;
    rates.get(`${mode} ${transport}`)!.push(rate);
    console.log(
      `round ${round}: ${mode.padEnd(7)} ${transport.padEnd(4)} ${count} in ` +
        `${figures.ms.toFixed(0)} ms = ${(rate / 1e6).toFixed(2)} M/s`,
    );
  }
}
console.log(`\n${count} per run, ${rounds} rounds alternated (median, min-max):`);
for (const [run, values] of rates) {
  const m = (value: number) => (value / 1e6).toFixed(2);
  console.log(
    `${run.padEnd(13)} ${m(median(values))} M/s (${m(Math.min(...values))}-${
      m(Math.max(...values))
    })`,
  );
}
