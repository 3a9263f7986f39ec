// Sizes and memory, bounded in bytes: a batch is posted once its texts reach
// 1 MiB, a larger record travels alone, and what one sender has in flight is
// capped at maxInFlightBytes. Before, one task logging 300 records of 2 MB
// built a single batch whose join passed V8's longest string, and every
// record of it was lost.
import { assert, assertEquals } from "@std/assert";
import { type ListenerStats, spawn } from "@workerlog/workerlog";
import { fixture, jsonFile, tempDir } from "./_helpers.ts";
import { expectedArrivals, logBigRecords } from "./_big_records.ts";
import { bigRecord, type SizeWorkerArgs } from "./fixtures/size_worker.ts";

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
