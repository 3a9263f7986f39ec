// Main-thread CPU per record with a WriterListener: 4 spawned workers log
// `records` records in all into a FileHandler built in the writer worker.
// The main thread's CPU (first field of /proc/thread-self/schedstat, ns) is
// read just before spawn() and after it resolves; the writer's start and
// stop are outside, as a server pays them once. Linux only.
//
//   deno run -A bench/writer_main_cpu.ts [records] [file]
import { spawn, WriterListener } from "@workerlog/workerlog";

const records = Number(Deno.args[0] ?? 2_000_000);
const file = Deno.args[1] ?? await Deno.makeTempFile({ suffix: ".log" });
const WORKERS = 4;

function threadCpuNs(): number {
  return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
}

await using writer = await new WriterListener(
  new URL("./workers/writer_handlers.ts", import.meta.url),
  { args: { file, shape: "text" } },
).start();
const before = threadCpuNs();
const started = performance.now();
await spawn(new URL("./workers/log_worker.ts", import.meta.url), {
  count: WORKERS,
  args: { records: records / WORKERS, shape: "text" },
  listener: writer,
});
const seconds = (performance.now() - started) / 1000;
const mainCpuNs = threadCpuNs() - before;
await writer.stop();
const lines = (await Deno.readTextFile(file)).split("\n").length - 1;
if (lines !== records) throw new Error(`${file} has ${lines} lines, expected ${records}`);
console.log(JSON.stringify({
  records,
  seconds: +seconds.toFixed(2),
  mainCpuMs: +(mainCpuNs / 1e6).toFixed(1),
  mainCpuUsPerRecord: +(mainCpuNs / 1e3 / records).toFixed(4),
}));
if (Deno.args[1] === undefined) await Deno.remove(file);
