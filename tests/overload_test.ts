// When the listener falls behind, memory stays bounded: "block" makes the
// workers wait and loses nothing; "drop" drops, counts exactly, and says so.
//
// The sink stalls the listener's thread on each worker's first record until
// that worker has done all it can without the listener: with "block" it must
// stop at exactly `CAP` records logged, with "drop" it runs to its end. The
// worker stores how many records it has logged in shared memory after every
// log call, so the sink also checks, at every record, that no worker is ever
// more than CAP records ahead of what the listener has handled.
import { assert, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import { FileHandler } from "@std/log";
import {
  jsonLinesFormatter,
  QueueListener,
  spawn,
  type WorkerLogRecord,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  readJsonLines,
  sleepSync,
  tempDir,
  waitForSync,
} from "./_helpers.ts";

const WORKERS = 2;
const RECORDS = 3_000;
const CAP = 64;

/**
 * A FileHandler on a slow disk (0.1 ms per record) that stalls on each
 * worker's first record until the worker can go no further, and checks the
 * cap from the worker's side on every record.
 */
class StallingFileHandler extends FileHandler {
  readonly progress = new Int32Array(new SharedArrayBuffer(4 * WORKERS));
  /** Per worker: how many records it had logged when its first record was written. */
  readonly loggedAtStall: number[] = [];
  /**
   * Per worker: the most records it had logged beyond the one being written
   * (with "block", all of them are buffered in the worker or in flight).
   */
  readonly maxAhead: number[] = Array(WORKERS).fill(0);

  constructor(filename: string, readonly overflow: "block" | "drop") {
    super("INFO", { filename, formatter: jsonLinesFormatter });
  }

  override handle(record: WorkerLogRecord) {
    const index = record.workerIndex;
    if (index !== undefined && record.loggerName !== "workerlog") {
      if (record.seq === 0) this.#stall(index);
      // Nothing of this worker past `seq` has been handled yet, so what it
      // has logged beyond `seq` is buffered in it or in flight.
      const ahead = Atomics.load(this.progress, index) - record.seq;
      this.maxAhead[index] = Math.max(this.maxAhead[index], ahead);
      busy(0.1);
    }
    super.handle(record);
  }

  #stall(index: number) {
    const logged = () => Atomics.load(this.progress, index);
    if (this.overflow === "block") {
      waitForSync(`worker-${index} to fill its window of ${CAP}`, () => logged() >= CAP);
      sleepSync(20); // time to overrun the cap, if it could
    } else {
      waitForSync(`worker-${index} to log all ${RECORDS} records`, () => logged() === RECORDS);
    }
    this.loggedAtStall[index] = logged();
  }
}

/** Holds this thread for `ms`, finer than a timed wait can. */
function busy(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a slow disk */ }
}

async function runAgainstStalledDisk(overflow: "block" | "drop") {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const sink = new StallingFileHandler(file, overflow);
  const listener = new QueueListener([sink], { maxInFlight: CAP, overflow }).start();
  const logged = await spawn<number>(fixture("progress_worker.ts"), {
    count: WORKERS,
    args: { records: RECORDS, progress: sink.progress.buffer },
    listener,
  });
  await listener.stop();
  assertEquals(logged, Array(WORKERS).fill(RECORDS));
  return { sink, stats: listener.stats(), lines: await readJsonLines(file) };
}

Deno.test("overload: block keeps every record and never buffers more than the cap", async () => {
  const { sink, stats, lines } = await runAgainstStalledDisk("block");
  assertEquals(
    sink.loggedAtStall,
    Array(WORKERS).fill(CAP),
    "while the listener stalled, each worker blocked at exactly the cap",
  );
  for (const ahead of sink.maxAhead) assertLessOrEqual(ahead, CAP, "a worker got past the cap");
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
  const { sink, stats, lines } = await runAgainstStalledDisk("drop");
  assertEquals(sink.loggedAtStall, Array(WORKERS).fill(RECORDS), "drop never makes a worker wait");
  for (const sender of stats.senders) {
    assertEquals(sender.received + sender.dropped, RECORDS, `${sender.name}: received + dropped`);
    // The worker logged everything while not one of its records was handled.
    assertLessOrEqual(sender.received, CAP, `${sender.name}: more than the cap got through`);
    assertLessOrEqual(sender.peakInFlight, CAP);
  }
  const notices = lines.filter((line) => line.logger === "workerlog");
  const records = lines.filter((line) => line.logger !== "workerlog");
  assertEquals(records.length, stats.received);
  assert(notices.length > 0, "a drop notice is in the file");
  for (const notice of notices) {
    assertEquals(notice.level, "WARN");
    assert(
      new RegExp(`^worker-\\d dropped \\d+ records: ${CAP} `).test(notice.msg),
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
