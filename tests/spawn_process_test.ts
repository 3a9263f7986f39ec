// spawn() with processes: the same guarantees as with workers (complete,
// ordered, results in index order, failures by index, abort), on real
// `deno run` processes logging over a real Unix socket into real files.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Logger } from "@std/log";
import {
  InvalidOptionError,
  ListenerStateError,
  ModuleNotFoundError,
  QueueListener,
  spawn,
  type SpawnOptions,
  WorkerError,
  WriterListener,
} from "@workerlog/workerlog";
import type { OwnListenerArgs } from "./fixtures/exit_own_listener.ts";
import type { OutlivesArgs } from "./fixtures/exit_outlives_listener.ts";
import {
  assertCompleteAndOrdered,
  fixture,
  jsonFile,
  type JsonLine,
  readJsonLines,
  senderRecords,
  tempDir,
  waitFor,
  within,
} from "./_helpers.ts";

const NO_PERMISSIONS = { permissions: [] };

/** Whether a process is alive (a zombie is not). */
function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
}

/** The pids the endless fixture logged in its "started" records. */
function startedPids(lines: JsonLine[]): Map<string, number> {
  return new Map(
    lines.filter((line) => line.msg === "started")
      .map((line) => [line.worker, (line.args![0] as { pid: number }).pid]),
  );
}

/** How many times `text` occurs in the file (0 if it does not exist yet). */
async function occurrences(file: string, text: string): Promise<number> {
  const content = await Deno.readTextFile(file).catch(() => "");
  return content.split(text).length - 1;
}

/** `promise`, or a failure saying what did not settle within `ms`. */

interface CountResult {
  index: number;
  count: number;
  name: string;
  pid: number;
  aborted: boolean;
  echo: unknown;
  made: Map<string, Date>;
  canSpawn: boolean;
}

Deno.test("spawn in processes: 3 processes x 5,000 records land in one file, complete and in order; results come in index order", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const echo = {
    when: new Date(7),
    ids: new Set([1, 2]),
    big: 2n ** 70n,
    map: new Map([["a", [1]]]),
  };
  let results: CountResult[];
  let senders;
  {
    await using listener = new QueueListener([jsonFile(file)]).start();
    results = await spawn<CountResult>(fixture("process_spawn_count.ts"), {
      count: 3,
      args: { records: 5_000, echo },
      listener,
      processes: NO_PERMISSIONS,
    });
    senders = listener.stats().senders;
  }
  assertEquals(
    results.map((
      { index, count, name, aborted, canSpawn },
    ) => [index, count, name, aborted, canSpawn]),
    [
      [0, 3, "process-0", false, true],
      [1, 3, "process-1", false, true],
      [2, 3, "process-2", false, true],
    ],
  );
  for (const result of results) {
    assertEquals(result.echo, echo, "args arrive as structured clone makes them");
    assertEquals(result.made, new Map([["when", new Date(0)]]), "and so do results");
    assertNotEquals(result.pid, Deno.pid);
    assert(!isRunning(result.pid), `process ${result.pid} has ended`);
  }
  assertEquals(new Set(results.map((result) => result.pid)).size, 3, "three processes");
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 15_000);
  assertEquals(
    Object.fromEntries(assertCompleteAndOrdered(lines)),
    { "process-0": 5_000, "process-1": 5_000, "process-2": 5_000 },
  );
  for (const line of lines) {
    assertEquals(line.msg, `record ${line.seq}`);
    assertEquals(line.args, [{ i: line.seq }]);
  }
  assertEquals(
    senders.map(({ name, index, dispatched }) => [name, index, dispatched]).sort(),
    [["process-0", 0, 5_000], ["process-1", 1, 5_000], ["process-2", 2, 5_000]],
    "each process is a sender with its index",
  );
});

Deno.test("spawn in processes: every way a process fails rejects with a WorkerError naming it, after what it sent is written", async () => {
  await using dir = await tempDir();
  // Written here, not in fixtures/: `deno check` of the tests would refuse it.
  const broken = dir.file("broken_import.ts");
  await Deno.writeTextFile(broken, 'import "./no_such_module.ts";\nexport default () => 0;\n');
  // A process finds its deno.json from its module, as `deno run` does: one
  // outside the project is told where it is.
  const config = new URL("../deno.json", import.meta.url).pathname;
  const run = (name: string, module: string | URL, args: unknown, count = 1) => {
    const file = dir.file(`${name}.log`);
    const result = spawn(module instanceof URL ? module : fixture(module), {
      count,
      args,
      name,
      handlers: [jsonFile(file)],
      // -L (--log-level, here its default) is a flag, not a permission.
      processes: { permissions: [], flags: [`--config=${config}`, "-L=info"] },
    }).then(
      () => assert(false, `${name} resolved`),
      (error) => (assertInstanceOf(error, WorkerError), error),
    );
    return { file, result };
  };
  // All at once: each is its own run, listener and file.
  const endings = "process_spawn_endings.ts";
  const cases = {
    throwing: run("throwing", endings, { records: 1_000, how: "throw" }),
    exiting: run("exiting", endings, { records: 1_000, how: "exit", code: 2 }),
    atOnce: run("at-once", endings, { records: 20_000, how: "exit-at-once", code: 3 }),
    uncaught: run("uncaught", endings, { records: 500, how: "uncaught" }),
    unsendable: run("unsendable", endings, { records: 10, how: "unsendable" }),
    brokenImport: run("broken", new URL(`file://${broken}`), {}),
    topLevel: run("top", "process_spawn_top_level_throw.ts", {}),
    noDefault: run("no-default", "no_default_worker.ts", {}),
    // The failure waits a second after its own start, so that its sibling,
    // started at the same time, is running when the abort comes.
    sibling: run(
      "sibling",
      "process_spawn_endless.ts",
      { how: ["honor", "fail"], failAfterMs: 1_000 },
      2,
    ),
  };
  const missing = assertRejects(
    () =>
      spawn(fixture("process_spawn_missing.ts"), {
        count: 1,
        handlers: [],
        processes: NO_PERMISSIONS,
      }),
    ModuleNotFoundError,
  );
  const error = Object.fromEntries(
    await Promise.all(
      Object.entries(cases).map(async ([key, { result }]) => [
        key,
        await within(result, 20_000, `spawn() of ${key}`),
      ]),
    ),
  ) as Record<keyof typeof cases, WorkerError>;
  await missing;
  const lines = async (key: keyof typeof cases) =>
    senderRecords(await readJsonLines(cases[key].file));

  assertEquals([error.throwing.index, error.throwing.worker], [0, "throwing-0"]);
  assertStringIncludes(
    error.throwing.message,
    "Worker 0 (throwing-0) failed: Error: deliberate failure",
  );
  assertStringIncludes(error.throwing.workerStack ?? "", "process_spawn_endings.ts");
  assertEquals(Object.fromEntries(assertCompleteAndOrdered(await lines("throwing"))), {
    "throwing-0": 1_000,
  });

  // Deno.exit() cannot wait for the socket: what arrived is written, what
  // did not is counted in the error.
  for (const [key, code, logged] of [["exiting", 2, 1_000], ["atOnce", 3, 20_000]] as const) {
    const message = error[key].message;
    assertStringIncludes(message, `called Deno.exit(${code}) before its function returned`);
    const lost = Number(
      /; (\d+) of the (\d+) records it logged had not reached/.exec(message)?.[1] ?? 0,
    );
    const written = await lines(key);
    assertCompleteAndOrdered(written);
    assertEquals(written.length + lost, logged, `${key}: written + lost = logged (${message})`);
  }
  assert(
    /are lost/.test(error.atOnce.message),
    "20,000 records logged at once cannot all have left",
  );

  assertStringIncludes(error.uncaught.message, "uncaught in a timer");
  assertEquals((await lines("uncaught")).length, 500);

  assertStringIncludes(error.unsendable.message, "cannot be sent to spawn()");
  assertEquals((await lines("unsendable")).length, 10);

  // A module that cannot load fails as in worker mode, with Deno's own words.
  assertStringIncludes(error.brokenImport.message, "Could not load worker module");
  assertStringIncludes(error.brokenImport.message, 'Module not found "file://');
  assertStringIncludes(error.brokenImport.message, "no_such_module.ts");
  assertEquals(await lines("brokenImport"), []);
  assertStringIncludes(error.topLevel.message, "Could not load worker module");
  assertStringIncludes(error.topLevel.message, "top-level failure");
  assertEquals((await lines("topLevel")).map((line) => line.msg), ["loading"]);
  assertStringIncludes(error.noDefault.message, "has no default export function");

  // One failure aborts the other process, which returns; both have ended.
  assertEquals([error.sibling.index, error.sibling.worker], [1, "sibling-1"]);
  assertStringIncludes(error.sibling.message, "process 1 failed on purpose");
  const siblings = await lines("sibling");
  assertCompleteAndOrdered(siblings);
  const pids = startedPids(siblings);
  assertEquals([...pids.keys()].sort(), ["sibling-0", "sibling-1"]);
  for (const [name, pid] of pids) assert(!isRunning(pid), `${name} (pid ${pid}) has ended`);
});

// Names come back once their process is gone (see the test of runs that
// share a listener): what Deno.exit() lost is counted from this run's
// process, not from an earlier one of the same name.
Deno.test("spawn in processes: after Deno.exit(), a name used before counts only its own records", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  let error: unknown;
  {
    await using listener = new QueueListener([jsonFile(file)]).start();
    const options = { count: 1, listener, processes: NO_PERMISSIONS, name: "again" };
    await spawn(fixture("process_spawn_count.ts"), { ...options, args: { records: 30_000 } });
    error = await spawn(fixture("process_spawn_endings.ts"), {
      ...options,
      args: { records: 20_000, how: "exit-at-once", code: 3 },
    }).then(() => undefined, (thrown) => thrown);
  }
  assertInstanceOf(error, WorkerError);
  const lost = Number(
    /; (\d+) of the 20000 records it logged had not reached/.exec(error.message)?.[1],
  );
  assert(lost > 0, `20,000 records logged at once cannot all have left: ${error.message}`);
  const written = senderRecords(await readJsonLines(file)).filter((line) =>
    line.worker === "again-0"
  );
  assertEquals(written.length - 30_000 + lost, 20_000, "the second run: written + lost = logged");
});

Deno.test("spawn in processes: an abort ends every process (one that returns, one only SIGTERM ends, one only SIGKILL ends), writes what they sent, and rejects with the reason", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const controller = new AbortController();
  let senders;
  {
    await using listener = new QueueListener([jsonFile(file)]).start();
    const run = spawn(fixture("process_spawn_endless.ts"), {
      count: 3,
      args: { how: ["honor", "ignore", "spin"] },
      listener,
      processes: NO_PERMISSIONS,
      signal: controller.signal,
    });
    const settled = run.then(() => undefined, (error) => error);
    await waitFor(
      "every process to log that it started",
      async () => await occurrences(file, '"msg":"started"') === 3,
    );
    controller.abort(new Error("stop now"));
    const error = await within(settled, 10_000, "spawn() after the abort");
    assertInstanceOf(error, Error);
    assertEquals(error.message, "stop now");
    senders = listener.stats().senders;
  }
  const lines = senderRecords(await readJsonLines(file));
  const counts = assertCompleteAndOrdered(lines);
  for (const sender of senders) {
    assertEquals(
      counts.get(sender.name),
      sender.received,
      `everything ${sender.name} sent is written`,
    );
  }
  const pids = startedPids(lines);
  assertEquals(pids.size, 3);
  for (const [name, pid] of pids) assert(!isRunning(pid), `${name} (pid ${pid}) has ended`);
});

Deno.test("spawn in processes: a process has exactly the permissions given, and a missing one fails naming the flag and the option", async () => {
  await using dir = await tempDir();
  const secret = dir.file("secret.txt");
  await Deno.writeTextFile(secret, "42");
  const read = (permissions: string[], name: string) =>
    spawn<string>(fixture("process_spawn_endings.ts"), {
      count: 1,
      args: { records: 1, how: "read", path: secret },
      name,
      handlers: [jsonFile(dir.file(`${name}.log`))],
      processes: { permissions },
    });
  const [denied, ...granted] = await Promise.allSettled([
    read([], "none"),
    read([`--allow-read=${secret}`], "listed"),
    // A bare flag stays whole (spawn's own read access is not added to it,
    // which would narrow it), and -A takes no other allow flag.
    read(["--allow-read", "--allow-env=HOME"], "bare"),
    read(["-A"], "all"),
  ]);
  assertEquals(denied.status, "rejected");
  const error = (denied as PromiseRejectedResult).reason;
  assertInstanceOf(error, WorkerError);
  assertStringIncludes(error.message, `Requires read access to "${secret}"`);
  assertStringIncludes(error.message, "--allow-read");
  assertStringIncludes(error.message, "processes.permissions");
  assertEquals(
    granted.map((outcome) => outcome.status === "fulfilled" ? outcome.value : outcome.reason),
    [["42"], ["42"], ["42"]],
  );
  for (const name of ["none", "listed", "bare", "all"]) {
    assertEquals((await readJsonLines(dir.file(`${name}.log`))).length, 1, `${name} logged`);
  }
});

Deno.test("spawn in processes: bad options are refused before any process starts, saying what to pass", async () => {
  await using dir = await tempDir();
  const module = fixture("process_spawn_count.ts");
  const base = { count: 1, args: { records: 1 }, handlers: [] };
  const refused = async (options: Partial<SpawnOptions>, option: string, says: string) => {
    const error = await assertRejects(
      () => spawn(module, { ...base, ...options } as SpawnOptions),
      InvalidOptionError,
    );
    assertEquals(error.option, option);
    assertStringIncludes(error.message, says);
  };
  const processes = (value: unknown) => ({ processes: value as SpawnOptions["processes"] });
  await refused(processes(true), "processes", "{ permissions:");
  await refused(processes({}), "processes.permissions", "never grants them by default");
  await refused(processes({ permissions: "--allow-read" }), "processes.permissions", "[]");
  await refused(
    processes({ permissions: ["--allow-files"] }),
    "processes.permissions[0]",
    "--allow-read=data",
  );
  await refused(
    processes({ permissions: ["-R", "--allow-read="] }),
    "processes.permissions[1]",
    "permission flag",
  );
  await refused(
    processes({ permissions: ["--v8-flags=x"] }),
    "processes.permissions[0]",
    "processes.flags",
  );
  await refused(
    processes({ permissions: [], flags: ["--allow-net"] }),
    "processes.flags[0]",
    "processes.permissions",
  );
  await refused(
    processes({ permissions: [], flags: ["--config", "deno.json"] }),
    "processes.flags[1]",
    '"--config=deno.json"',
  );
  await refused(
    processes({ permissions: [], flags: ["--preload=x.ts"] }),
    "processes.flags[0]",
    "does not set itself",
  );
  await refused(processes({ permissions: [], flags: "--cached-only" }), "processes.flags", "array");
  await refused(
    { ...processes(NO_PERMISSIONS), onMessage: () => {} },
    "onMessage",
    "no Worker channel",
  );
  await refused(
    { ...processes(NO_PERMISSIONS), handlers: undefined, writer: fixture("writer_handlers.ts") },
    "writer",
    "a WriterListener cannot accept processes",
  );
  const writer = new WriterListener(fixture("writer_handlers.ts"), {
    args: { filename: dir.file("writer.log") },
  });
  await refused(
    { ...processes(NO_PERMISSIONS), handlers: undefined, listener: writer },
    "listener",
    "a WriterListener cannot accept processes",
  );
  const run = spawn(module, { ...base, processes: NO_PERMISSIONS, signal: AbortSignal.abort() });
  assertThrows(
    () => run.postMessage(0, "hi"),
    InvalidOptionError,
    "a process has no Worker channel",
  );
  await assertRejects(() => run);
  // A listener that has been stopped refuses at once, as with workers, even
  // one that had listened.
  const stopped = new QueueListener([]).start();
  await stopped.listen();
  await stopped.stop();
  await assertRejects(
    () => spawn(module, { count: 1, listener: stopped, processes: NO_PERMISSIONS }),
    ListenerStateError,
    "the listener has been stopped",
  );
});

Deno.test("spawn in processes: runs share a listener with the main thread; it listens once, names never collide, and preformat works", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  let stats;
  {
    await using listener = new QueueListener([
      jsonFile(file),
    ]).start();
    assertEquals(listener.listening, undefined);
    const main = new Logger("main-logger", "INFO", { handlers: [listener.handler()] });
    main.info("before");
    const options = { count: 2, listener, processes: NO_PERMISSIONS };
    // At the same time: the second run's names step aside.
    const [first, second] = await Promise.all([
      spawn<CountResult>(fixture("process_spawn_count.ts"), { ...options, args: { records: 300 } }),
      spawn<CountResult>(fixture("process_spawn_count.ts"), { ...options, args: { records: 300 } }),
    ]);
    assertEquals(
      [...first, ...second].map((result) => result.name).sort(),
      ["process#2-0", "process#2-1", "process-0", "process-1"],
    );
    const { address } = await listener.listening!;
    // Then one more, preformatted in the processes with the module's formatter.
    await spawn(fixture("json_preformat_worker.ts"), {
      ...options,
      args: { records: 200 },
      name: "pre",
      preformat: true,
    });
    assertEquals((await listener.listening!).address, address, "the same socket throughout");
    // A run after those ended gets the plain names again, as with workers.
    const rerun = await spawn<CountResult>(fixture("process_spawn_count.ts"), {
      ...options,
      args: { records: 50 },
    });
    assertEquals(rerun.map((result) => result.name), ["process-0", "process-1"]);
    main.info("after");
    stats = listener.stats();
  }
  assertEquals(stats.peers?.accepted, 8);
  assertEquals(stats.refusedPeers, 0);
  const lines = await readJsonLines(file);
  assertEquals(lines[0].msg, "before");
  assertEquals(lines.at(-1)!.msg, "after");
  // The rerun's senders start again at seq 0, after the preformatted run.
  const cut = lines.findLastIndex((line) => line.worker.startsWith("pre-")) + 1;
  const rerunLines = lines.slice(cut, -1);
  assertEquals(Object.fromEntries(assertCompleteAndOrdered(rerunLines)), {
    "process-0": 50,
    "process-1": 50,
  });
  assertEquals(
    Object.fromEntries(assertCompleteAndOrdered([...lines.slice(0, cut), lines.at(-1)!])),
    {
      main: 2,
      "process-0": 300,
      "process-1": 300,
      "process#2-0": 300,
      "process#2-1": 300,
      "pre-0": 200,
      "pre-1": 200,
    },
  );
});

Deno.test("spawn in processes: their stdout and stderr are the program's, and they end on their own when the program is killed", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const main = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture("process_spawn_main.ts").pathname, file],
    env: { TMPDIR: dir.path }, // its socket and report files, removed with dir
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let pids = new Map<string, number>();
  try {
    const stdout = new Response(main.stdout).text();
    let stderr = "";
    const collecting = main.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (stderr += text) }),
    );
    await waitFor(
      "both processes to log that they started, and their stderr to pass through",
      async () =>
        await occurrences(file, '"msg":"started"') === 2 &&
        stderr.includes("stderr of process 0") && stderr.includes("stderr of process 1"),
    );
    pids = startedPids(await readJsonLines(file));
    main.kill("SIGKILL");
    await main.status;
    await waitFor(
      "the processes to end after their program was killed",
      () => [...pids.values()].every((pid) => !isRunning(pid)),
    );
    const out = await stdout; // ends once the processes, which share it, have ended
    assertStringIncludes(out, "stdout of process 0");
    assertStringIncludes(out, "stdout of process 1");
    await collecting;
  } finally {
    try {
      main.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    // A wait that failed before the pids were read leaves them in the file.
    if (pids.size === 0) pids = startedPids(await readJsonLines(file).catch(() => []));
    for (const pid of pids.values()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  }
  assertEquals(pids.size, 2);
  assertCompleteAndOrdered(senderRecords(await readJsonLines(file)));
});

// Runs exit_outlives_listener.ts in a process, stops the listener once the
// process's "started" is in the file, then lets the process go on; resolves
// with how spawn() settled (its result, or what it threw) and the file.
async function outlivingTheListener(quiet: boolean) {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const stopped = dir.file("stopped"); // written once the listener has stopped
  const listener = new QueueListener([jsonFile(file)]).start();
  const run = spawn<string>(fixture("exit_outlives_listener.ts"), {
    count: 1,
    args: { stopped, quiet } satisfies OutlivesArgs,
    listener,
    processes: { permissions: [`--allow-read=${stopped}`] },
  }).then((result) => result, (error: unknown) => error);
  try {
    await waitFor(
      "the process to log that it started",
      async () => await occurrences(file, '"msg":"started"') === 1,
    );
  } finally {
    await listener.stop();
    await Deno.writeTextFile(stopped, "");
  }
  const settled = await within(run, 10_000, "spawn() after the listener stopped");
  return { settled, lines: (await readJsonLines(file)).map((line) => line.msg) };
}

Deno.test("spawn in processes: a process whose last records the listener never acknowledged fails, saying how many", async () => {
  // It logs once more and returns: nothing can acknowledge that record.
  const { settled: error, lines } = await outlivingTheListener(false);
  assertInstanceOf(error, WorkerError);
  assertEquals([error.index, error.worker], [0, "process-0"]);
  // "started" is in the file; its acknowledgement may not have reached the
  // process before the listener stopped.
  assertMatch(
    error.message,
    /process-0 ended before the listener had acknowledged its last [12] records/,
  );
  assertStringIncludes(error.message, "nothing listens at unix:");
  assertEquals(lines, ["started"]);
});

Deno.test("spawn in processes: a process that outlives the listener with everything acknowledged is done", async () => {
  // It waits for "started" to be acknowledged itself, then logs no more.
  const { settled, lines } = await outlivingTheListener(true);
  assertEquals(settled, ["returned"]);
  assertEquals(lines, ["started"]);
});

// A module may handle its own stray errors, as plain Deno lets it: a
// listener that calls event.preventDefault() keeps the program running.
// workerlog's own listener, which comes first, decides only after the
// module's have run (sender/_exit_hooks.ts).
const modes = [["worker", {}], ["process", { processes: NO_PERMISSIONS }]] as const;

for (const node of [false, true]) {
  Deno.test(`spawn: a module that handles its own rejections and errors (${node ? "node:process listeners" : "preventDefault()"}) keeps running and logging, in a worker and in a process`, async () => {
    await using dir = await tempDir();
    const runs = modes.map(async ([mode, options]) => {
      const file = dir.file(`${mode}.log`);
      const args: OwnListenerArgs = { how: "both", handle: true, node };
      const run = spawn(fixture("exit_own_listener.ts"), {
        count: 1,
        args,
        handlers: [jsonFile(file)],
        ...options,
      });
      const result = await within(run, 20_000, `spawn() of a ${mode}`);
      return { mode, result, lines: (await readJsonLines(file)).map((line) => line.msg) };
    });
    for (const { mode, result, lines } of await Promise.all(runs)) {
      assertEquals(result, ["finished"], `the ${mode} returned`);
      assertEquals(lines.length, 4, `${mode}: ${lines}`);
      assertEquals([lines[0], lines[3]], ["before", "after"]);
      assertEquals(
        lines.slice(1, 3).sort(),
        ["its own listener saw: a stray rejection", "its own listener saw: an uncaught error"],
      );
    }
  });
}

Deno.test("spawn: an error or rejection that the module's own listener logs but does not handle rejects, and that line is written, in a worker and in a process", async () => {
  await using dir = await tempDir();
  // Each mode and each event once (the test above has both events in both
  // modes). The listener blocks 100 ms after it has logged, so that an
  // ending reported before it ran would lose its line for certain.
  const hows = [["throw", "an uncaught error"], ["reject", "a stray rejection"]] as const;
  const runs = modes.map(async ([mode, options], i) => {
    const [how, message] = hows[i];
    const file = dir.file(`${mode}.log`);
    const args: OwnListenerArgs = { how, handle: false };
    const run = spawn(fixture("exit_own_listener.ts"), {
      count: 1,
      args,
      handlers: [jsonFile(file)],
      ...options,
    }).then(() => undefined, (error) => error);
    const error = await within(run, 20_000, `spawn() of a ${mode} that does "${how}"`);
    return { what: `${mode}, ${how}`, message, error, file };
  });
  for (const { what, message, error, file } of await Promise.all(runs)) {
    assertInstanceOf(error, WorkerError, what);
    assertStringIncludes(error.message, `failed: Error: ${message}`, what);
    const lines = (await readJsonLines(file)).map((line) => line.msg);
    assertEquals(lines.slice(0, 2), ["before", `its own listener saw: ${message}`], what);
  }
});
