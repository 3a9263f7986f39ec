// Nothing a worker logged is lost when it crashes, closes itself, is
// aborted, or when the listener stops under load or the program just ends.
import {
  assert,
  assertEquals,
  assertGreater,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { QueueListener, spawn, WorkerError } from "@workerlog/workerlog";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  type JsonLine,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

for (const how of ["throw", "reject"] as const) {
  Deno.test(`shutdown: a worker killed by an uncaught ${how} outside its function loses nothing`, async () => {
    await using dir = await tempDir();
    const file = dir.file("out.log");
    const error = await assertRejects(
      () =>
        spawn(fixture("crash_worker.ts"), {
          count: 2,
          args: { records: 3_000, how },
          handlers: [jsonFile(file)],
        }),
      WorkerError,
    );
    assertStringIncludes(
      error.message,
      how === "throw" ? "timer exploded" : "rejection nobody handled",
    );
    assert(error.index === 0 || error.index === 1);
    assertStringIncludes(error.workerStack ?? "", "crash_worker.ts");
    const lines = await readJsonLines(file);
    const mine = lines.filter((line) => line.worker === error.worker);
    assertEquals(mine.length, 3_001, "every record before the crash, and the last words");
    assertCompleteAndOrdered(mine);
    assertEquals(mine.at(-1)!.msg, "last words");
  });
}

Deno.test("shutdown: a worker that calls self.close() mid-stream loses nothing it logged", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const error = await assertRejects(
    () =>
      spawn(fixture("self_close_worker.ts"), {
        count: 1,
        args: { records: 2_000 },
        handlers: [jsonFile(file)],
      }),
    WorkerError,
    "called self.close() before its function returned",
  );
  assertEquals(error.index, 0);
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 2_000);
  assertCompleteAndOrdered(lines);
});

Deno.test("shutdown: stop() under full load writes everything received and rejects the rest", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([jsonFile(file)]).start();
  const run = spawn<number>(fixture("count_worker.ts"), {
    count: 4,
    args: { records: 25_000, yieldEvery: 200 },
    listener,
  });
  await waitFor("5,000 records written", () => listener.stats().dispatched >= 5_000);
  await listener.stop();
  const atStop = listener.stats();
  const linesAtStop = await readJsonLines(file);
  assertEquals(
    linesAtStop.length,
    atStop.dispatched,
    "stop() returned after every received record was written",
  );

  const logged = await run;
  const after = listener.stats();
  assertEquals(after.dispatched, atStop.dispatched, "nothing is written after stop()");
  assertEquals((await readJsonLines(file)).length, atStop.dispatched);
  assertEquals(logged, [25_000, 25_000, 25_000, 25_000]);
  for (const sender of after.senders) {
    assertEquals(
      sender.dispatched + sender.rejected,
      25_000,
      `${sender.name}: written + rejected = logged`,
    );
  }
  assertGreater(after.rejected, 0, "the workers were still logging when the listener stopped");
  const perWorker = assertCompleteAndOrdered(linesAtStop);
  for (const sender of after.senders) {
    assertEquals(perWorker.get(sender.name) ?? 0, sender.dispatched);
  }
});

async function abortedRun(ignoreSignal: boolean) {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([jsonFile(file)]).start();
  const controller = new AbortController();
  const reason = new Error("enough");
  const run = spawn(fixture("endless_worker.ts"), {
    count: 3,
    args: { ignoreSignal },
    listener,
    signal: controller.signal,
  });
  const everyWorkerWrote = () => {
    const { senders } = listener.stats();
    return senders.length === 3 && senders.every((sender) => sender.dispatched >= 1_000);
  };
  await waitFor("each of 3 workers to have 1,000 records written", everyWorkerWrote);
  controller.abort(reason);
  const rejection = await assertRejects(() => run);
  assertStrictEquals(rejection, reason);
  const stats = listener.stats();
  await listener.stop();
  const lines: JsonLine[] = await readJsonLines(file);
  assertEquals(lines.length, stats.dispatched, "what the workers sent is written");
  assertEquals(stats.dropped, 0);
  // A worker that ignores its signal logs on until it is terminated: what it
  // sends after its detach is rejected, never half written. A cooperative
  // one has nothing rejected.
  if (!ignoreSignal) assertEquals([stats.received, stats.rejected], [stats.dispatched, 0]);
  const perWorker = assertCompleteAndOrdered(lines);
  assertEquals(perWorker.size, 3);
  for (const count of perWorker.values()) assertGreater(count, 1_000);
}

Deno.test("shutdown: aborting spawn() stops cooperative workers, writes what they sent, rejects with the reason", () =>
  abortedRun(false));

Deno.test("shutdown: aborting spawn() terminates workers that ignore their signal", () =>
  abortedRun(true));

Deno.test("shutdown: when one worker throws, the others are aborted and one that ignores its signal is terminated; nothing sent is lost", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([jsonFile(file)]).start();
  const failAfter = 2_000;
  const error = await assertRejects(
    () =>
      spawn(fixture("endless_worker.ts"), {
        count: 2,
        args: { ignoreSignal: true, failAfter },
        listener,
      }),
    WorkerError,
    "worker 0 failed",
  );
  assertEquals(error.index, 0);
  const stats = listener.stats();
  await listener.stop();
  const lines: JsonLine[] = await readJsonLines(file);
  assertEquals(lines.length, stats.dispatched, "what the workers sent is written");
  assertEquals(stats.dropped, 0);
  const perWorker = assertCompleteAndOrdered(lines);
  assertEquals(perWorker.get("worker-0"), failAfter, "every record of the one that threw");
  assertGreater(perWorker.get("worker-1") ?? 0, 0);
});

for (const how of ["return", "exit"]) {
  Deno.test(`shutdown: a program that ends (${how}) without stop() still has every received record in the file`, async () => {
    await using dir = await tempDir();
    const file = dir.file("out.log");
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        fixture("exit_without_stop.ts").pathname,
        file,
        how,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const lines = await readJsonLines(file);
    assertEquals(lines.length, 5_100);
    assertEquals(Object.fromEntries(assertCompleteAndOrdered(lines)), { worker: 5_000, main: 100 });
  });
}

Deno.test("shutdown: after SIGKILL the file holds whole lines, each worker's a gapless prefix", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      fixture("kill_me_main.ts").pathname,
      file,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let status: Deno.CommandStatus;
  try {
    const size = () => Deno.stat(file).then((info) => info.size, () => 0);
    await waitFor("the log file to reach 1 MB", async () => await size() >= 1_000_000, 20_000);
  } finally {
    child.kill("SIGKILL");
    status = await child.status;
  }
  assertEquals(status.signal, "SIGKILL", `the program ended before it was killed: ${status.code}`);
  const text = await Deno.readTextFile(file);
  const pieces = text.split("\n");
  const last = pieces.pop()!; // "" when the file ends with a whole line
  const parsed = pieces.map((line, i) => {
    try {
      return JSON.parse(line) as JsonLine;
    } catch {
      throw new Error(`line ${i + 1} of ${pieces.length} is not whole: ${line.slice(0, 200)}`);
    }
  });
  assertEquals(
    [...new Set(parsed.map((line) => line.worker))].sort(),
    ["worker-0", "worker-1"],
    "both workers wrote",
  );
  const next = assertCompleteAndOrdered(parsed);
  // A cut-short last line is the beginning of some worker's next record.
  const nextLines = ["worker-0", "worker-1"].map((worker) =>
    nextLineOf(worker, next.get(worker) ?? 0, last)
  );
  assert(
    last === "" || nextLines.some((line) => line.startsWith(last)),
    `the last line is neither whole nor the start of a worker's next record: ${last}`,
  );
});

/**
 * The line endless_worker's record `seq` from `worker` would have been, with
 * the time taken from `cut` (a prefix of it) where `cut` has one.
 */
function nextLineOf(worker: string, seq: number, cut: string): string {
  const template = JSON.stringify({
    time: "0000-00-00T00:00:00.000Z",
    level: "INFO",
    worker,
    logger: "default",
    msg: `record ${seq}`,
    seq,
  });
  const timeAt = template.indexOf("0000");
  const time = cut.slice(timeAt, timeAt + 24);
  return template.slice(0, timeAt) + time + template.slice(timeAt + time.length);
}
