// When the listener falls behind, memory stays bounded: "block" makes the
// workers wait and loses nothing; "drop" drops, counts exactly, and says so.
// Then the same bound in bytes, and records too big for a batch (below).
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
  type ListenerStats,
  QueueListener,
  spawn,
  type WorkerLogRecord,
} from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  readJsonLines,
  sleepSync,
  tempDir,
  waitForSync,
} from "./_helpers.ts";
import { expectedArrivals, logBigRecords } from "./_big_records.ts";
import { bigRecord, type SizeWorkerArgs } from "./fixtures/size_worker.ts";

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

// Sizes and memory, bounded in bytes: a batch is posted once its texts reach
// 1 MiB, a larger record travels alone, and what one sender has in flight is
// capped at maxInFlightBytes. Before, one task logging 300 records of 2 MB
// built a single batch whose join passed V8's longest string, and every
// record of it was lost.

const MB = 1_000_000;

Deno.test("sizes: 300 records of 2 MB logged in one task all arrive whole, and those before them too", async () => {
  await logBigRecords({ before: 1_000, count: 300, size: 2 * MB });
});

// 12 rather than 300: the FileHandler's formatting, encoding and writing
// cost about 16 ms per 2 MB line here, 5 to 9 s for 300. The 300 (more than
// a batch's string can hold) are the test above; this one checks the file,
// each line of which travels alone (over 1 MiB).
Deno.test("sizes: 12 records of 2 MB logged in one task all reach a real file, whole", async () => {
  await using dir = await tempDir();
  const file = dir.file("big.log");
  const args: SizeWorkerArgs = { before: 1_000, count: 12, size: 2 * MB };
  await spawn(fixture("size_worker.ts"), {
    count: 1,
    args,
    handlers: [jsonFile(file)],
  });
  // 24 MB: read line by line.
  const expected = bigRecord(args.size);
  const messages: string[] = [];
  let seq = 0;
  for await (const line of linesOf(file)) {
    const record = JSON.parse(line) as { msg: string; seq: number; args?: number[] };
    assertEquals(record.seq, seq++);
    if (record.msg.length < 1_000) {
      messages.push(record.msg);
      continue;
    }
    const i = messages.length - args.before;
    assertEquals(record.args, [i], `big record ${i}: its number`);
    assertEquals(record.msg.length, args.size, `big record ${i}: its length`);
    assert(record.msg === expected, `big record ${i}: its text`);
    messages.push(`big ${i}`);
  }
  assertEquals(messages, expectedArrivals(args));
});

/** The lines of a file that may be larger than one string can be; fails if the last is cut. */
async function* linesOf(path: string): AsyncGenerator<string> {
  using file = await Deno.open(path);
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(1 << 20);
  let pending: Uint8Array[] = [];
  for (let read; (read = await file.read(chunk)) !== null;) {
    let start = 0;
    for (let end; (end = chunk.indexOf(10, start)) !== -1 && end < read; start = end + 1) {
      pending.push(chunk.slice(start, end));
      yield decoder.decode(concat(pending));
      pending = [];
    }
    if (start < read) pending.push(chunk.slice(start, read));
  }
  assert(pending.length === 0, `${path} does not end with a newline`);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

Deno.test("sizes: 4 workers into a slow sink stay within maxInFlightBytes, and the process within 100 MB more", async () => {
  const perWorker = 6_000;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture("size_memory_main.ts").pathname, String(perWorker)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const report = JSON.parse(new TextDecoder().decode(stdout)) as {
    results: number[];
    baseline: number;
    peak: number;
    stats: ListenerStats;
    maxInFlightBytes: number;
    seen: Record<string, number>;
    problems: string[];
  };
  assertEquals(report.results, [perWorker, perWorker, perWorker, perWorker]);
  assertEquals(report.problems, []);
  assertEquals(report.seen, {
    "worker-0": perWorker,
    "worker-1": perWorker,
    "worker-2": perWorker,
    "worker-3": perWorker,
  });
  assertEquals(report.maxInFlightBytes, 4 * 2 ** 20, "the default maxInFlightBytes");
  // A record is 2,048 characters and a small arg ({ i }).
  const oneRecord = 2_048 + 64;
  for (const sender of report.stats.senders) {
    assert(
      sender.peakInFlightBytes <= report.maxInFlightBytes + oneRecord,
      `${sender.name} had ${sender.peakInFlightBytes} bytes in flight`,
    );
    // Otherwise the sink was not slow enough for the cap to matter, and this
    // test would prove nothing.
    assert(
      sender.peakInFlightBytes > report.maxInFlightBytes / 2,
      `${sender.name} never came near the cap: ${sender.peakInFlightBytes} bytes`,
    );
  }
  const growth = report.peak - report.baseline;
  console.log(`VmHWM grew by ${(growth / 2 ** 20).toFixed(1)} MiB while logging`);
  assert(growth < 100 * 2 ** 20, `VmHWM grew by ${growth} bytes`);
});

// Records of 100 MB, 600 MB of them logged in one task: each travels alone,
// never joined into a batch past V8's longest string (see the 2 MB records above).
// One run covers both: a single 100 MB record arriving whole is what each
// of the six is checked for.
Deno.test("sizes: 600 MB logged in one task, as 6 records of 100 MB between small ones: each arrives whole, in order", async () => {
  await logBigRecords({ before: 10, count: 6, size: 100 * MB });
});
