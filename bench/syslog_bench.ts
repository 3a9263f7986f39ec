// Throughput of SyslogHandler into a real rsyslogd: TCP (octet counting)
// and RELP, N records each, from the main thread. A run is timed from the
// first handle() until rsyslog's output file holds all N records, so it is
// end to end: rendering, buffering, the socket, rsyslog, its file.
//
//   deno run -A bench/syslog_bench.ts [--records N]
//
// rsyslog runs with its default in-memory main queue here ("memory"), as
// in production; the tests use a direct queue so that a RELP ack means
// "in the file".
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import { SyslogHandler, type SyslogTransport } from "../sinks/syslog_handler.ts";
import { Rsyslog } from "../tests/_rsyslog.ts";

function recordsOption(): number {
  const at = Deno.args.indexOf("--records");
  const value = at >= 0 ? Number(Deno.args[at + 1]) : 200_000;
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--records takes a whole number of at least 1, not ${Deno.args[at + 1]}`);
  }
  return value;
}

async function run(transport: SyslogTransport, records: number) {
  const dir = await Deno.makeTempDir({ prefix: "workerlog_syslog_bench_" });
  try {
    await using rsyslog = await Rsyslog.start({
      dir,
      queue: "memory",
      format: "msg",
      ...(transport === "relp" ? { relp: true } : { tcp: true }),
    });
    const handler = new SyslogHandler("INFO", {
      transport,
      port: transport === "relp" ? rsyslog.relpPort : rsyslog.tcpPort,
      maxBufferBytes: 1024 * 1024 * 1024,
      relpWindow: Number(Deno.env.get("RELP_WINDOW") ?? 1024),
    });
    const start = performance.now();
    // Logged in slices of 5,000 per event-loop turn, as a listener hands
    // them over, so the writer runs between slices.
    for (let i = 0; i < records; i++) {
      handler.handle(
        new WorkerLogRecord({
          msg: `GET /api/items/${i} 200 ${i % 97}ms`,
          args: [],
          level: 20,
          loggerName: "default",
          datetime: Date.now(),
          worker: "worker-0",
          seq: i,
        }),
      );
      if (i % 5_000 === 4_999) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const logged = performance.now();
    await handler.drained();
    const drained = performance.now();
    const deadline = Date.now() + 120_000;
    while ((await rsyslog.lineCount()) < records) {
      if (Date.now() > deadline) throw new Error(`rsyslog did not get all ${records} records`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const done = performance.now();
    await handler[Symbol.asyncDispose]();
    const stats = handler.stats();
    if (stats.dropped > 0) throw new Error(`${stats.dropped} records dropped`);
    return {
      transport,
      records,
      perSecond: records / ((done - start) / 1000),
      handleUs: ((logged - start) * 1000) / records,
      drainedMs: drained - start,
      totalMs: done - start,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const records = recordsOption();
const rows = [];
for (const transport of ["tcp", "relp"] as const) rows.push(await run(transport, records));
console.log(
  `| transport | records | records/s (end to end) | handle()+yield µs/record | delivered (ms) | in rsyslog's file (ms) |`,
);
console.log(
  `| --------- | ------: | ---------------------: | -----------------------: | -------------: | ---------------------: |`,
);
for (const row of rows) {
  console.log(
    `| ${row.transport} | ${row.records} | ${(row.perSecond / 1e6).toFixed(2)} M | ${
      row.handleUs.toFixed(2)
    } | ${row.drainedMs.toFixed(0)} | ${row.totalMs.toFixed(0)} |`,
  );
}
