// When the listener falls behind, memory stays bounded: "block" makes the
// workers wait and loses nothing; "drop" drops, counts exactly, and says so.
import { assert, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import { FileHandler } from "@std/log";
import { jsonLinesFormatter, QueueListener, spawn } from "@workerlog/workerlog";
import { assertCompleteAndOrdered, fixture, readJsonLines, tempDir } from "./_helpers.ts";

const WORKERS = 4;
const RECORDS = 20_000;
const CAP = 1_000;

/** A FileHandler on a slow disk: every record takes 1 ms. */
class SlowFileHandler extends FileHandler {
  #sleeper = new Int32Array(new SharedArrayBuffer(4));
  override log(msg: string) {
    Atomics.wait(this.#sleeper, 0, 0, 1);
    super.log(msg);
  }
}

async function runAgainstSlowDisk(overflow: "block" | "drop") {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener(
    [new SlowFileHandler("INFO", { filename: file, formatter: jsonLinesFormatter })],
    { maxInFlight: CAP, overflow },
  ).start();
  const logged = await spawn<number>(fixture("burst_worker.ts"), {
    count: WORKERS,
    args: { records: RECORDS },
    listener,
  });
  await listener.stop();
  assertEquals(logged, Array(WORKERS).fill(RECORDS));
  return { stats: listener.stats(), lines: await readJsonLines(file) };
}

Deno.test("overload: block keeps every record and never buffers more than the cap", async () => {
  const { stats, lines } = await runAgainstSlowDisk("block");
  assertEquals(lines.length, WORKERS * RECORDS);
  assertEquals(
    Object.fromEntries(assertCompleteAndOrdered(lines)),
    Object.fromEntries(Array.from({ length: WORKERS }, (_, i) => [`worker-${i}`, RECORDS])),
  );
  assertEquals([stats.received, stats.dispatched, stats.dropped, stats.rejected], [
    WORKERS * RECORDS,
    WORKERS * RECORDS,
    0,
    0,
  ]);
  for (const sender of stats.senders) {
    assertLessOrEqual(sender.peakInFlight, CAP, `${sender.name} buffered more than the cap`);
    assertGreater(sender.peakInFlight, CAP / 2, `${sender.name} never filled its window`);
  }
});

Deno.test("overload: drop counts exactly what it drops and writes a notice", async () => {
  const { stats, lines } = await runAgainstSlowDisk("drop");
  assertGreater(stats.dropped, 0);
  for (const sender of stats.senders) {
    assertEquals(sender.received + sender.dropped, RECORDS, `${sender.name}: received + dropped`);
    assertLessOrEqual(sender.peakInFlight, CAP);
  }
  const notices = lines.filter((line) => line.logger === "workerlog");
  const records = lines.filter((line) => line.logger !== "workerlog");
  assertEquals(records.length, stats.received);
  assert(notices.length > 0, "a drop notice is in the file");
  for (const notice of notices) {
    assertEquals(notice.level, "WARN");
    assert(
      /^worker-\d dropped \d+ records: 1000 were already in flight/.test(notice.msg),
      notice.msg,
    );
  }
  const noticed = notices.reduce(
    (sum, notice) => sum + Number(/dropped (\d+)/.exec(notice.msg)![1]),
    0,
  );
  assertEquals(noticed, stats.dropped, "the notices add up to what was dropped");
  // Per worker, what was kept is in order; the gaps are the dropped records.
  const last = new Map<string, number>();
  for (const { worker, seq } of records) {
    assert(seq > (last.get(worker) ?? -1), `${worker}: seq ${seq} out of order`);
    last.set(worker, seq);
  }
});
