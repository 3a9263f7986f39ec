// `deno task example`: four workers log into one file through one listener.
//
//   deno task example [--out path/to/file.log] [--records N]
//
// The file path can also come from WORKERLOG_EXAMPLE_OUT.
import { spawn, textFormatter } from "@workerlog/workerlog";
import { FileHandler } from "@std/log";
import type { ExampleArgs } from "./worker.ts";

const out = flag("--out") ?? Deno.env.get("WORKERLOG_EXAMPLE_OUT") ?? "out.log";
const records = Number(flag("--records") ?? 300);

const logged = await spawn<number, ExampleArgs>(new URL("./worker.ts", import.meta.url), {
  count: 4,
  args: { records },
  handlers: [new FileHandler("DEBUG", { filename: out, mode: "w", formatter: textFormatter })],
  loggers: { db: { level: "DEBUG" } },
});

const perWorker = new Map<string, number>();
for (const line of (await Deno.readTextFile(out)).split("\n")) {
  const worker = /^\S+ \S+ \[([^\]]+)\]/.exec(line)?.[1];
  if (worker) perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
}
for (const [index, count] of logged.entries()) {
  console.log(
    `worker-${index}: logged ${count}, wrote ${perWorker.get(`worker-${index}`) ?? 0} lines`,
  );
}
console.log(
  `All ${[...perWorker.values()].reduce((a, b) => a + b, 0)} lines are in ${await Deno.realPath(
    out,
  )}`,
);

function flag(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at === -1 ? undefined : Deno.args[at + 1];
}
