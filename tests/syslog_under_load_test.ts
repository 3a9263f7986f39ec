// SyslogHandler under load, against a real rsyslogd: 4 workers log while
// rsyslog is restarted (RELP loses nothing, TCP's loss is measured), and
// while they flood the listener rsyslog keeps getting records.
import { assert, assertEquals, assertGreater } from "@std/assert";
import { QueueListener, spawn } from "@workerlog/workerlog";
import { type Received, Rsyslog } from "./_rsyslog.ts";
import { handlerFor, record, sdParams } from "./_syslog.ts";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";
import type { CountArgs } from "./fixtures/count_worker.ts";
import {
  assertProgressBeforeEnd,
  flood,
  FLOOD_MAX_IN_FLIGHT,
  FLOOD_WORKERS,
  floodProgress,
  progressAtFlag,
} from "./_flood.ts";

/** 4 workers of count_worker.ts log `perWorker` records each into `listener`. */
function fourWorkersLog(listener: QueueListener, perWorker: number): Promise<number[]> {
  return spawn<number>(fixture("count_worker.ts"), {
    count: 4,
    args: { records: perWorker, yieldEvery: 500 } satisfies CountArgs,
    listener,
  });
}

/**
 * Logs through a real QueueListener and spawn(): 4 workers, `perWorker`
 * records each, while rsyslog is restarted with SIGTERM and then SIGKILL.
 * Returns what arrived per (worker, seq) and the handler's stats.
 */
async function restartWhileLogging(transport: "relp" | "tcp", perWorker: number) {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({
    dir: dir.path,
    ...(transport === "relp" ? { relp: true } : { tcp: true }),
  });
  const { handler, errors } = handlerFor({
    transport,
    port: transport === "relp" ? rsyslog.relpPort : rsyslog.tcpPort,
    maxBufferBytes: 256 * 1024 * 1024,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  }, "INFO");
  const total = 4 * perWorker;
  const listener = new QueueListener([handler]).start();
  const restarts = (async () => {
    await waitFor("a quarter delivered", () => handler.stats().delivered >= total * 0.25, 20_000);
    await rsyslog.restart("SIGTERM");
    await waitFor("60% delivered", () => handler.stats().delivered >= total * 0.6, 20_000);
    await rsyslog.restart("SIGKILL");
  })();
  try {
    await fourWorkersLog(listener, perWorker);
    await restarts;
    await handler.drained(AbortSignal.timeout(20_000));
  } finally {
    await restarts.catch(() => {});
    await listener.stop();
    await handler[Symbol.asyncDispose]();
  }
  const stats = handler.stats();
  // The file is complete once every delivered record is in; for TCP, what
  // was lost never comes, so wait for the count to stop growing instead.
  // One SIGKILL: rsyslogd may have left one line of its own file unfinished.
  // Duplicates (RELP) do not count towards the total.
  const unique = (all: Received[]) =>
    new Set(all.map((got) => `${sdParams(got).worker}/${sdParams(got).seq}`)).size;
  let received = await rsyslog.received(1);
  for (let stable = 0; stable < 5 && unique(received) < total;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await rsyslog.received(1);
    stable = now.length === received.length ? stable + 1 : 0;
    received = now;
  }
  const copies = new Map<string, number>();
  for (const got of received) {
    const { worker, seq } = sdParams(got);
    assertEquals(got.msg, `record ${seq} {"i":${seq}}`, "every record arrives whole");
    const key = `${worker}/${seq}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  const duplicates = received.length - copies.size;
  return { stats, errors, total, received: received.length, unique: copies.size, duplicates };
}

Deno.test("RELP: 4 workers, rsyslog restarted with SIGTERM and SIGKILL while logging: every record arrives, duplicates counted", async () => {
  const perWorker = 5_000;
  const result = await restartWhileLogging("relp", perWorker);
  console.log(
    `RELP: ${result.total} records, ${result.received} received, ${result.unique} unique, ` +
      `${result.duplicates} duplicates, ${result.stats.resent} resent, ${result.stats.reconnects} reconnects`,
  );
  assertEquals(result.unique, result.total, "every record at least once");
  assertEquals(result.stats.acknowledged, result.total);
  assertEquals(result.stats.dropped, 0);
  assertEquals(result.stats.abandoned, 0);
  assertGreater(result.stats.reconnects, 1);
  assert(result.duplicates <= result.stats.resent, "a duplicate is a resent record");
  // One report per outage: each restart is one episode.
  assert(result.errors.length >= 1 && result.errors.length <= 2, result.errors.join("\n"));
});

Deno.test("TCP: the same restarts lose what was in flight; the loss is measured, not assumed zero", async () => {
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({ dir: dir.path, tcp: true });
  const { handler } = handlerFor({
    port: rsyslog.tcpPort,
    maxBufferBytes: 256 * 1024 * 1024,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  }, "INFO");
  const perWorker = 10_000;
  const total = 4 * perWorker;
  const listener = new QueueListener([handler]).start();
  // TCP writes go into the kernel's buffers at once, so the restarts are
  // timed by what rsyslog has written, not by what the handler sent: 1,000
  // more lines, or, once every record is logged and none is left in the
  // handler's buffer (nothing more can come), at once.
  let logged = false;
  const nothingLeft = () => logged && handler.stats().buffered === 0;
  const restarts = (async () => {
    await waitFor("the first write", () => handler.stats().sent > 0, 20_000);
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const before = await rsyslog.lineCount();
      const deadline = Date.now() + 3_000;
      while (
        (await rsyslog.lineCount()) < before + 1_000 && !nothingLeft() && Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await rsyslog.restart(signal);
    }
  })();
  try {
    await fourWorkersLog(listener, perWorker);
    logged = true;
    await restarts;
    // After the last restart (SIGKILL), records go through again: log one
    // at a time until one arrives (the first may go into the dead socket),
    // then 100 more, which all must arrive.
    let arrived = false;
    for (let k = 0; k < 50 && !arrived; k++) {
      handler.handle(record(`probe ${k}`, { worker: "main", seq: k }));
      await handler.drained(AbortSignal.timeout(5_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      arrived = (await rsyslog.received(1)).some((got) => got.msg.startsWith("probe "));
    }
    assert(arrived, "a probe record arrived after the restarts");
    for (let i = 0; i < 100; i++) handler.handle(record(`after ${i}`, { worker: "main", seq: i }));
    await handler.drained(AbortSignal.timeout(5_000));
  } finally {
    await restarts.catch(() => {});
    await listener.stop();
    await handler[Symbol.asyncDispose]();
  }
  let received = await rsyslog.received(1);
  const afterDeadline = Date.now() + 10_000;
  while (received.filter((got) => got.msg.startsWith("after ")).length < 100) {
    assert(Date.now() < afterDeadline, "waited 10 s for the 100 records logged after the restarts");
    await new Promise((resolve) => setTimeout(resolve, 50));
    received = await rsyslog.received(1);
  }
  const stats = handler.stats();
  const copies = new Map<string, number>();
  let after = 0;
  for (const got of received) {
    const { worker, seq } = sdParams(got);
    if (worker === "main") {
      if (got.msg.startsWith("after ")) assertEquals(got.msg, `after ${after++}`, "in order");
      continue;
    }
    assertEquals(got.msg, `record ${seq} {"i":${seq}}`, "every record arrives whole");
    copies.set(`${worker}/${seq}`, (copies.get(`${worker}/${seq}`) ?? 0) + 1);
  }
  const lost = total - copies.size;
  console.log(
    `TCP: ${total} records, ${stats.sent} sent in all (with probes and after), ` +
      `${copies.size} of the ${total} received, ${lost} lost, ` +
      `${
        [...copies.values()].filter((n) => n > 1).length
      } duplicated, ${stats.reconnects} reconnects`,
  );
  assertEquals(after, 100);
  assertEquals(stats.unconfirmed, stats.delivered);
  assertEquals(stats.acknowledged, 0);
  assertEquals(stats.dropped, 0);
  assertGreater(stats.reconnects, 0);
});

/**
 * 4 workers flood one QueueListener into a FileHandler and a SyslogHandler
 * (default buffer sizes) while rsyslog is up (see _flood.ts). Returns what
 * the workers logged, where they were when rsyslog had its first 1,000
 * records, and what arrived.
 */
async function floodWhileDelivering(transport: "tcp" | "relp") {
  const threshold = 1_000;
  await using dir = await tempDir();
  await using rsyslog = await Rsyslog.start({
    dir: dir.path,
    ...(transport === "relp" ? { relp: true } : { tcp: true }),
  });
  const { shared, view } = floodProgress();
  const watcher = new Worker(fixture("sink_watch_worker.ts"), { type: "module" });
  try {
    // + 1: the warm-up record.
    watcher.postMessage({
      watch: "file",
      path: rsyslog.output,
      shared,
      workers: FLOOD_WORKERS,
      threshold: threshold + 1,
    });
    const { handler, errors } = handlerFor({
      transport,
      port: transport === "relp" ? rsyslog.relpPort : rsyslog.tcpPort,
    }, "INFO");
    // Warm: the first delivery (the I/O worker's start, the connection)
    // takes long on a busy machine, and a cold start is not what this is
    // about; the flood would log tens of thousands of records meanwhile.
    handler.handle(record("warm-up", { worker: "main" }));
    await rsyslog.waitForReceived(1, "the warm-up record");
    const listener = new QueueListener([jsonFile(dir.file("all.jsonl")), handler], {
      maxInFlight: FLOOD_MAX_IN_FLIGHT,
    }).start();
    let logged: number[];
    try {
      logged = await flood(listener, shared);
      await handler.drained(AbortSignal.timeout(30_000));
    } finally {
      await listener.stop();
    }
    assertProgressBeforeEnd(view, logged, "rsyslog");
    const total = logged.reduce((sum, n) => sum + n, 0);
    const received = await rsyslog.waitForReceived(total + 1, `all ${total} ${transport} records`);
    const copies = new Map<string, number>();
    for (const got of received) {
      const { worker, seq } = sdParams(got);
      if (worker === "main") continue; // the warm-up
      const key = `${worker}/${seq}`;
      copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    const filed = assertCompleteAndOrdered(await readJsonLines(dir.file("all.jsonl")));
    return {
      snapshot: progressAtFlag(view),
      logged,
      total,
      filed: logged.map((_, k) => filed.get(`worker-${k}`) ?? 0),
      stats: handler.stats(),
      errors,
      received: received.length - 1, // the warm-up excepted
      unique: copies.size,
    };
  } finally {
    watcher.terminate();
  }
}

function assertDeliveredDuringFlood(result: Awaited<ReturnType<typeof floodWhileDelivering>>) {
  assertEquals(result.filed, result.logged, "every record in the FileHandler's file");
  assertEquals(result.unique, result.total, "every record in rsyslog's file");
  assertEquals([result.stats.dropped, result.stats.abandoned], [0, 0], "nothing dropped");
  assertEquals(result.errors, []);
}

Deno.test("TCP under a sustained 4-worker flood: rsyslog gets records while the workers log, and every one", async () => {
  const result = await floodWhileDelivering("tcp");
  console.log(
    `TCP flood: ${result.total} records; rsyslog had its first ${1_000} when the workers were at ` +
      `${result.snapshot.join(", ")} of ${result.logged.join(", ")}`,
  );
  assertDeliveredDuringFlood(result);
  assertEquals(result.received, result.total, "no duplicates over TCP");
  assertEquals(result.stats.delivered, result.total + 1, "the flood and the warm-up");
});

Deno.test("RELP under a sustained 4-worker flood: acknowledged while the workers log, every record at least once", async () => {
  const result = await floodWhileDelivering("relp");
  console.log(
    `RELP flood: ${result.total} records, ${result.received - result.unique} duplicates; rsyslog ` +
      `had its first ${1_000} when the workers were at ${result.snapshot.join(", ")} of ` +
      `${result.logged.join(", ")}`,
  );
  assertDeliveredDuringFlood(result);
  assertEquals(result.stats.acknowledged, result.total + 1, "the flood and the warm-up");
  assert(result.received - result.unique <= result.stats.resent, "a duplicate is a resent record");
});
