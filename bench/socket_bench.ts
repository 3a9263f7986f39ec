// Transport-only throughput over a Unix socket: a child process logs N
// records (or preformatted lines) through a ProcessHandler; the listener in
// this process has no handlers, so what is measured is encoding, the socket,
// decoding, dedupe and acks. Timed in the child, from the first log call to
// the flush() that resolves once the listener has acknowledged everything.
//
//   deno run --allow-all bench/socket_bench.ts [records=2000000] [rounds=3]
import { Logger } from "@std/log";
import { ProcessHandler, QueueListener } from "../mod.ts";

if (Deno.args[0] === "child") {
  const [, mode, countText] = Deno.args;
  const count = Number(countText);
  const handler = new ProcessHandler("INFO", {
    address: Deno.env.get("WORKERLOG_ADDRESS")!,
    token: Deno.env.get("WORKERLOG_TOKEN")!,
    maxBufferBytes: 256 * 1024 * 1024,
  });
  const logger = new Logger("bench", "INFO", { handlers: [handler] });
  const line = "2026-11-25T10:00:00.000Z INFO [bench] bench: a line of about sixty-four chars";
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (mode === "lines") handler.log(line);
    else logger.info("a record of about thirty chars");
    // Yield now and then, as a real program does, so acks are read.
    if ((i & 0x1fff) === 0x1fff) await new Promise((r) => setTimeout(r, 0));
  }
  await handler.flush();
  const ms = performance.now() - start;
  console.log(JSON.stringify({ ms, dropped: handler.stats().dropped }));
  handler.close();
} else {
  const count = Number(Deno.args[0] ?? 2_000_000);
  const rounds = Number(Deno.args[1] ?? 3);
  await using listener = new QueueListener([], { handleSignals: false }).start();
  const { env } = await listener.listen();
  for (const mode of ["lines", "records"]) {
    for (let round = 0; round < rounds; round++) {
      const before = listener.stats().received;
      const { stdout, code } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL(import.meta.url).pathname,
          "child",
          mode,
          String(count),
        ],
        env: { ...env, WORKERLOG_NAME: `${mode}-${round}` },
        stderr: "inherit",
      }).output();
      if (code !== 0) throw new Error(`the child failed with ${code}`);
      const { ms, dropped } = JSON.parse(new TextDecoder().decode(stdout));
      const received = listener.stats().received - before;
      console.log(
        `${mode.padEnd(7)} round ${round}: ${count} in ${ms.toFixed(0)} ms = ` +
          `${(count / ms * 1000 / 1e6).toFixed(2)} M/s (received ${received}, dropped ${dropped})`,
      );
    }
  }
}
