// SIGINT and SIGTERM while spawn()'s listener runs: the listener has every
// worker post what it is building, writes everything and exits with 130 or
// 143. Each test runs a real program in a subprocess, sends it a real signal
// and reads the file it leaves. The programs register a signal listener of
// their own before spawn() (listeners fire in registration order) that
// writes how far each worker had logged when the signal arrived.
import { assert, assertEquals } from "@std/assert";
import {
  assertCompleteAndOrdered,
  fixture,
  type JsonLine,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const WORKERS = ["worker-0", "worker-1", "worker-2", "worker-3"];
// Worker 3 of signal_worker.ts logs in a loop that never yields.
const SYNC_WORKER = 3;

/** Starts `main` with `args`; the log file it writes is `args[0]`. */
function start(main: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture(main).pathname, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/**
 * Waits until every one of `workers` has a line in the last MiB of `file`
 * (the file grows by tens of MB a second: reading all of it at every poll
 * would slow the program under test).
 */
async function waitForLinesOf(file: string, workers: string[]) {
  const tail = new Uint8Array(1 << 20);
  await waitFor(`a line from each of ${workers.join(", ")} in ${file}`, async () => {
    using opened = await Deno.open(file).catch(() => undefined);
    if (opened === undefined) return false;
    const size = (await opened.stat()).size;
    await opened.seek(Math.max(0, size - tail.length), Deno.SeekMode.Start);
    const text = new TextDecoder().decode(tail.subarray(0, (await opened.read(tail)) ?? 0));
    return workers.every((worker) => text.includes(`"worker":"${worker}"`));
  }, 20_000);
}

/** Waits until signal_main.ts says every worker has logged 20 records. */
async function waitForReady(progressFile: string) {
  await waitFor(
    "every worker to have logged 20 records",
    () => Deno.stat(`${progressFile}.ready`).then(() => true, () => false),
    20_000,
  );
}

/** The child's exit status and stderr; kills it and fails if it has not ended within 15 s. */
async function ended(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) =>
    timer = setTimeout(resolve, 15_000, "timeout")
  );
  const output = child.output();
  const first = await Promise.race([output, deadline]);
  clearTimeout(timer);
  if (first === "timeout") {
    child.kill("SIGKILL");
    await output;
    throw new Error("the program did not exit within 15 s of the signal");
  }
  return { code: first.code, stderr: new TextDecoder().decode(first.stderr) };
}

/**
 * Checks the lines' content and that every worker's records are a gapless
 * run from seq 0; returns how many each worker has.
 */
function countsOf(lines: JsonLine[]): Map<string, number> {
  for (const line of lines) {
    assertEquals(line.msg, `record ${line.seq}`, `${line.worker}: wrong text for seq ${line.seq}`);
  }
  return assertCompleteAndOrdered(lines);
}

/** Every record with seq <= `progress[i]` from `workers[i]` is in `counts`. */
function assertHasAllUpTo(counts: Map<string, number>, workers: string[], progress: number[]) {
  workers.forEach((worker, i) => {
    assert(progress[i] >= 0, `${worker} had logged nothing when the signal came`);
    const count = counts.get(worker) ?? 0;
    assert(
      count >= progress[i] + 1,
      `${worker} had logged records 0..${progress[i]} when the signal came, ` +
        `but the file has only 0..${count - 1}`,
    );
  });
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`signals: ${signal} writes every record logged before it, then exits ${code}`, async () => {
    await using dir = await tempDir();
    const [file, progressFile] = [dir.file("out.log"), dir.file("progress.json")];
    const child = start("signal_main.ts", [file, progressFile, "default"]);
    try {
      await waitForReady(progressFile);
      await waitForLinesOf(file, WORKERS);
    } finally {
      child.kill(signal);
    }
    const status = await ended(child);
    assertEquals(status.code, code, `exit code; stderr: ${status.stderr}`);
    const progress = JSON.parse(await Deno.readTextFile(progressFile)) as number[];
    // readJsonLines fails on a file that does not end with a whole line, and
    // on any line that does not parse: nothing is torn.
    const counts = countsOf(await readJsonLines(file));
    assertEquals([...counts.keys()].sort(), WORKERS);
    assertHasAllUpTo(counts, WORKERS, progress);
  });
}

Deno.test("signals: a worker that never yields but logs slowly has its records written too", async () => {
  // It cannot read the listener's request to post (that is a message, and it
  // never returns to its event loop), and its batch fills only every 5 s.
  await using dir = await tempDir();
  const [file, progressFile] = [dir.file("out.log"), dir.file("progress.json")];
  const child = start("signal_main.ts", [file, progressFile, "slow"]);
  try {
    await waitForReady(progressFile);
    await waitForLinesOf(file, WORKERS.filter((_, i) => i !== SYNC_WORKER));
  } finally {
    child.kill("SIGTERM");
  }
  const status = await ended(child);
  assertEquals(status.code, 143, `exit code; stderr: ${status.stderr}`);
  const progress = JSON.parse(await Deno.readTextFile(progressFile)) as number[];
  const counts = countsOf(await readJsonLines(file));
  assertHasAllUpTo(counts, WORKERS, progress);
});

Deno.test("signals: with handleSignals false, the program's own SIGINT handling aborts spawn() and loses nothing", async () => {
  await using dir = await tempDir();
  const [file, progressFile] = [dir.file("out.log"), dir.file("progress.json")];
  const child = start("signal_main.ts", [file, progressFile, "own"]);
  try {
    await waitForReady(progressFile);
    await waitForLinesOf(file, WORKERS);
  } finally {
    child.kill("SIGINT");
  }
  const status = await ended(child);
  assertEquals(status.code, 7, `the program's own exit code; stderr: ${status.stderr}`);
  const atSignal = JSON.parse(await Deno.readTextFile(progressFile)) as number[];
  const after = JSON.parse(await Deno.readTextFile(`${progressFile}.after`)) as {
    message: string;
    isTheReason: boolean;
    progress: number[];
  };
  assertEquals(after.message, "stopped by SIGINT");
  assert(after.isTheReason, "spawn() rejected with something other than the signal's reason");
  const counts = countsOf(await readJsonLines(file));
  assertEquals([...counts.keys()].sort(), WORKERS);
  assertHasAllUpTo(counts, WORKERS, atSignal);
  // The workers that yield see the abort, return, and their last batch is
  // posted as they return: every record they ever logged is in the file.
  WORKERS.forEach((worker, i) => {
    if (i === SYNC_WORKER) return;
    assertEquals(counts.get(worker), after.progress[i] + 1, `${worker}: all it logged`);
  });
  // The worker that never yields cannot see the abort; spawn() detaches it
  // after its grace. What it logged up to the signal is written (above); what
  // it logs after the detach is refused, never half written.
  assert(counts.get(WORKERS[SYNC_WORKER])! <= after.progress[SYNC_WORKER] + 1);
});

Deno.test("signals: two listeners in one program are both drained before it exits", async () => {
  await using dir = await tempDir();
  const [direct, delivering, progressFile] = ["direct.log", "delivering.log", "progress.json"]
    .map((name) => dir.file(name));
  const child = start("signal_two_listeners_main.ts", [direct, delivering, progressFile]);
  try {
    await waitForLinesOf(direct, ["direct-0", "direct-1"]);
    await waitForLinesOf(delivering, ["delivering-0", "delivering-1"]);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await ended(child);
  assertEquals(status.code, 143, `exit code; stderr: ${status.stderr}`);
  const progress = JSON.parse(await Deno.readTextFile(progressFile)) as {
    direct: number[];
    delivering: number[];
  };
  assertHasAllUpTo(
    countsOf(await readJsonLines(direct)),
    ["direct-0", "direct-1"],
    progress.direct,
  );
  assertHasAllUpTo(
    countsOf(await readJsonLines(delivering)),
    ["delivering-0", "delivering-1"],
    progress.delivering,
  );
});
