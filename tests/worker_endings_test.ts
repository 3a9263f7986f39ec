// Every way a spawned worker can end settles spawn() promptly and keeps
// every record the worker logged, with preformat those logged while its
// module loads too (held for its formatter).
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { FileHandler } from "@std/log";
import { QueueListener, spawn, WorkerError } from "@workerlog/workerlog";
import type { EndingArgs } from "./fixtures/ending_worker.ts";
import {
  assertCompleteAndOrdered,
  CHILD_DEADLINE_MS,
  fixture,
  jsonFile,
  readJsonLines,
  readLines,
  readTextLines,
  tempDir,
  waitFor,
  within,
} from "./_helpers.ts";

async function endRun(args: EndingArgs) {
  const dir = await tempDir();
  const file = dir.file("out.log");
  const run = spawn(fixture("ending_worker.ts"), {
    count: 1,
    args,
    handlers: [jsonFile(file)],
  });
  return { dir, file, run };
}

async function assertAllWritten(file: string, records: number) {
  const lines = await readJsonLines(file);
  assertEquals(lines.length, records, `all ${records} records logged before the end are written`);
  const perWorker = Object.fromEntries(assertCompleteAndOrdered(lines));
  assertEquals(perWorker, records === 0 ? {} : { "worker-0": records });
}

for (const records of [0, 200, 511, 512, 2_000]) {
  Deno.test(`endings: self.close() after ${records} records keeps every one of them`, async () => {
    const { dir, file, run } = await endRun({ records, how: "close" });
    await using _ = dir;
    await assertRejects(() => run, WorkerError, "called self.close() before its function returned");
    await assertAllWritten(file, records);
  });
}

for (const code of [3, 1]) {
  Deno.test(`endings: Deno.exit(${code}) rejects with a WorkerError naming the code; nothing lost`, async () => {
    const { dir, file, run } = await endRun({ records: 300, how: "exit", code });
    await using _ = dir;
    const error = await assertRejects(() => run, WorkerError);
    assertStringIncludes(error.message, `called Deno.exit(${code})`);
    assertEquals(error.index, 0);
    await assertAllWritten(file, 300);
  });
}

Deno.test("endings: Deno.exit(0) counts as finished, with undefined as its result", async () => {
  const { dir, file, run } = await endRun({ records: 300, how: "exit", code: 0 });
  await using _ = dir;
  assertEquals(await run, [undefined]);
  await assertAllWritten(file, 300);
});

for (const how of ["throw", "reject"] as const) {
  for (const value of ["null-prototype", "toString-throws", "revoked-proxy"] as const) {
    Deno.test(`endings: a ${how} of a value whose description throws (${value}) is reported`, async () => {
      const { dir, file, run } = await endRun({ records: 300, how, value });
      await using _ = dir;
      const error = await assertRejects(() => run, WorkerError);
      assertStringIncludes(error.message, "Worker 0 (worker-0) failed");
      if (value === "null-prototype") assertStringIncludes(error.message, "no prototype");
      await assertAllWritten(file, 300);
    });
  }
}

// What spawn() settles with when the worker ends while its module loads.
const whileLoading = {
  exit: undefined,
  close: "called self.close() before its function returned",
  uncaught: "uncaught while loading",
  reject: "rejected while loading",
};

for (const [how, failure] of Object.entries(whileLoading)) {
  Deno.test(`endings: with preformat, ${how} while the module loads keeps the record it held`, async () => {
    await using dir = await tempDir();
    const file = dir.file("out.log");
    const module = new URL(`${fixture("held_ending_worker.ts").href}?how=${how}`);
    const run = spawn(module, {
      count: 1,
      preformat: true,
      handlers: [new FileHandler("INFO", { filename: file })],
    });
    if (failure === undefined) assertEquals(await run, [undefined]);
    else await assertRejects(() => run, WorkerError, failure);
    // Formatted with textFormatter: the module's formatter never became known.
    const lines = (await readTextLines(file)).map(({ worker, rest }) => `${worker} ${rest}`);
    assertEquals(lines, [`worker-0 logged while loading, then ${how}`]);
  });
}

Deno.test("endings: with preformat, flush() while the module loads writes what it held", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  let atFlush: string[] | undefined;
  await spawn(fixture("held_flush_worker.ts"), {
    count: 1,
    preformat: true,
    handlers: [new FileHandler("INFO", { filename: file })],
    onMessage: () => atFlush = Deno.readTextFileSync(file).split("\n").filter(Boolean),
  });
  assertEquals(atFlush?.length, 1, "the held record was written when flush() resolved");
  assertStringIncludes(atFlush![0], "INFO [worker-0] default: logged while loading");
});

for (const mode of ["handlers", "writer"]) {
  Deno.test(`endings: with preformat, a signal while the modules load writes what they held (${mode})`, async () => {
    await using dir = await tempDir();
    const file = dir.file("out.log");
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", fixture("held_signal_main.ts").pathname, file, mode],
      stdout: "null",
      signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
    }).output();
    assertEquals(code, 143);
    const lines = await readTextLines(file);
    const of = (worker: string) =>
      lines.filter((line) => line.worker === worker).map((l) => l.rest);
    assertEquals(of("worker-0"), ["loading"]);
    // worker-1 logs on until the end: what it held, then (in order) what followed.
    const busy = of("worker-1");
    assertEquals(busy, ["loading", ...busy.slice(1).map((_, i) => `loading ${i}`)]);
    assert(busy.length > 1, "worker-1 sent what it held at its next log call");
  });
}

for (const cap of [{ maxInFlight: 64 }, { maxInFlightBytes: 4_096 }]) {
  Deno.test(`endings: with preformat, what the module logs while it loads past ${Object.keys(cap)[0]} goes then, all in order`, async () => {
    await using dir = await tempDir();
    const file = dir.file("out.log");
    await spawn(fixture("held_flood_worker.ts"), {
      count: 1,
      preformat: true,
      handlers: [new FileHandler("INFO", { filename: file })],
      listenerOptions: { ...cap, overflow: "block" },
    });
    const lines = await readLines(file);
    assertEquals(lines.length, 2_001);
    // Past the cap they could not wait for the module's formatter: textFormatter's lines.
    lines.slice(0, -1).forEach((line, i) =>
      assert(line.endsWith(`[worker-0] default: loading ${i}`), line)
    );
    assertEquals(lines.at(-1), "CUSTOM running");
  });
}

Deno.test("endings: an abort right after the call is not missed while spawn() checks its options", async () => {
  await using dir = await tempDir();
  const aborter = new AbortController();
  const run = spawn(fixture("endless_worker.ts"), {
    count: 2,
    handlers: [jsonFile(dir.file("out.log"))],
    signal: aborter.signal,
  });
  aborter.abort(new Error("stop at once"));
  // endless_worker logs until its signal aborts: a missed abort fails here.
  await assertRejects(() => within(run, 10_000, "spawn() after the abort"), Error, "stop at once");
});

Deno.test("endings: an abort whose reason has no prototype still reaches the workers", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const aborter = new AbortController();
  const listener = new QueueListener([jsonFile(file)]).start();
  const run = spawn(fixture("abort_aware_worker.ts"), {
    count: 2,
    listener,
    signal: aborter.signal,
  });
  // Both running, so that each can answer within the abort's grace even on
  // a machine too busy to load a worker's module in that time.
  const settled = run.then(() => undefined, (error) => error);
  try {
    await waitFor("both workers logging", () => {
      const senders = listener.stats().senders.filter((sender) => sender.received > 0);
      return senders.length === 2;
    });
  } finally {
    // On a failed wait too: no worker is left logging after the test.
    aborter.abort(Object.assign(Object.create(null), { why: "shutdown" }));
  }
  const reason = await settled;
  await listener.stop();
  assertEquals(Object.getPrototypeOf(reason), null, "spawn rejects with the reason itself");
  const lines = await readJsonLines(file);
  const told = lines.filter((line) => line.msg.startsWith("aborted: "));
  assertEquals(told.length, 2, "each worker was told, before it was terminated");
  for (const line of told) assertStringIncludes(line.msg, "shutdown");
});

Deno.test("endings: two runs at once share one listener; records say which run logged them", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([jsonFile(file)]).start();
  const args = { records: 2_000, yieldEvery: 100 };
  const [first, second] = await Promise.all([
    spawn(fixture("count_worker.ts"), { count: 2, args, listener }),
    spawn(fixture("count_worker.ts"), { count: 2, args, listener }),
  ]);
  assertEquals([first, second], [[2_000, 2_000], [2_000, 2_000]]);
  // A run after those ended gets the plain names again.
  await spawn(fixture("count_worker.ts"), { count: 1, args, listener });
  await listener.stop();
  const lines = await readJsonLines(file);
  const perWorker = assertCompleteAndOrdered(lines.slice(0, 8_000));
  assertEquals(Object.fromEntries(perWorker), {
    "worker-0": 2_000,
    "worker-1": 2_000,
    "worker#2-0": 2_000,
    "worker#2-1": 2_000,
  });
  const later = assertCompleteAndOrdered(lines.slice(8_000));
  assertEquals(Object.fromEntries(later), { "worker-0": 2_000 });
});

Deno.test("endings: a bad run name is refused up front", async () => {
  for (const name of ["", "a#b", 7]) {
    const error = await assertRejects(() =>
      spawn(fixture("count_worker.ts"), { count: 1, handlers: [], name: name as string })
    );
    assertInstanceOf(error, Error);
    assert(error.message.startsWith("Invalid option name"), error.message);
  }
});
