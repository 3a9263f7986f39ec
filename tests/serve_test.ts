// One log file for instances nobody wires up: the isolates of a real
// `deno serve --parallel` under load, and ordinary processes that race for
// the same socket, find a stale one, and take over from a writer that is
// SIGKILLed. Every record counted, per sender in order.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { FileHandler } from "@std/log";
import { InvalidOptionError, setupSharedLogging } from "@workerlog/workerlog";
import {
  AppendedLines,
  assertCompleteAndOrdered,
  CHILD_DEADLINE_MS,
  fixture,
  freePort,
  readJsonLines,
  senderRecords,
  tempDir,
  waitFor,
} from "./_helpers.ts";

/** A child process whose stdout JSON lines are collected as they come. */
interface Child {
  process: Deno.ChildProcess;
  lines: Record<string, unknown>[];
  stderr: Promise<string>;
  /** Resolves when stdout ends. */
  done: Promise<void>;
}

function startChild(args: string[], env: Record<string, string> = {}, stdin = false): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const done = (async () => {
    let rest = "";
    for await (const text of process.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      for (const part of parts) if (part.trim() !== "") lines.push(JSON.parse(part));
    }
  })();
  const stderr = new Response(process.stderr).text();
  return { process, lines, stderr, done };
}

function kill(child: Child) {
  try {
    child.process.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Waits for the child to exit, at most `ms`; fails saying what it waited for. */
async function exited(child: Child, what: string, ms = 10_000): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), ms)
  );
  const status = await Promise.race([child.process.status, timeout]);
  clearTimeout(timer);
  if (status === undefined) throw new Error(`Timed out after ${ms} ms waiting for ${what} to exit`);
  await child.done;
  return status;
}

function events(child: Child, event: string) {
  return child.lines.filter((line) => line.event === event);
}

async function isListening(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `task` on each of `items`, at most `limit` at a time. */
async function bounded<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await task(items[at]);
    }
  }));
  return results;
}

const REQUESTS = 400;

Deno.test("serve: DENO_JOBS=4 deno serve --parallel writes every request's line into one file, and one SIGTERM ends it", async () => {
  await using dir = await tempDir();
  const socket = dir.file("log.sock");
  const file = dir.file("app.log");
  const port = freePort();
  const serve = startChild([
    "serve",
    "--parallel",
    "--host=127.0.0.1",
    `--port=${port}`,
    "--allow-env=SERVE_SOCKET,SERVE_LOG",
    `--allow-read=${dir.path}`,
    `--allow-write=${dir.path}`,
    `--allow-net=unix:${socket}`,
    fixture("serve_app.ts").pathname,
  ], { DENO_JOBS: "4", SERVE_SOCKET: socket, SERVE_LOG: file });
  // A connection per request, so that the kernel spreads them over the instances.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  let clientOpen = true;
  const closeClient = () => clientOpen && (clientOpen = false, client.close());
  try {
    await waitFor("the 4 instances to start and log through the writer", async () => {
      const text = await Deno.readTextFile(file).catch(() => "");
      return text.split('"instance started"').length - 1 === 4;
    }, 20_000).catch(async (error) => {
      kill(serve);
      const text = await Deno.readTextFile(file).catch(() => "(no file)");
      throw new Error(
        `${error.message}. The file:\n${text}\ndeno serve's stderr:\n${await serve.stderr}`,
      );
    });
    await waitFor(`deno serve to listen on port ${port}`, async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    });
    // The load: 400 requests, 16 at a time, each logs one line with its id.
    const ids = Array.from({ length: REQUESTS }, (_, i) => `r${i}`);
    const servedBy = await bounded(ids, 16, async (id) => {
      const response = await fetch(`http://127.0.0.1:${port}/?id=${id}`, { client });
      assertEquals(response.status, 200, `request ${id}`);
      return await response.text();
    });
    // Requests still running at the SIGTERM: they answer once it has reached
    // their instance (10 s at the latest), so their lines come after it.
    const slowIds = ["slow0", "slow1", "slow2", "slow3"];
    const slow = slowIds.map((id) =>
      fetch(`http://127.0.0.1:${port}/?id=${id}&slowMs=10000`, { client })
        .then(async (response) => [response.status, await response.text()] as const)
    );
    await waitFor("the slow requests to start", async () => {
      const text = await Deno.readTextFile(file);
      return text.split('"slow request started"').length - 1 === slowIds.length;
    });
    serve.process.kill("SIGTERM");
    const slowServedBy = await Promise.all(slow);
    closeClient(); // no idle keep-alive connection is left to the server
    const status = await exited(serve, "deno serve after one SIGTERM");
    assertEquals(
      [status.code, status.signal],
      [0, null],
      `deno serve exits 0 after SIGTERM: ${await serve.stderr}`,
    );
    assert(
      !await Deno.lstat(socket).then(() => true, () => false),
      "the writer removed the socket",
    );

    const lines = senderRecords(await readJsonLines(file));
    assertCompleteAndOrdered(lines);
    const started = lines.filter((line) => line.msg === "instance started");
    const stopping = lines.filter((line) => line.msg === "instance got SIGTERM");
    assertEquals(new Set(started.map((line) => line.worker)).size, 4, "4 instances started");
    assertEquals(
      new Set(stopping.map((line) => line.worker)),
      new Set(started.map((line) => line.worker)),
      "each instance's line logged after SIGTERM is in the file",
    );
    const requests = lines.filter((line) => line.msg === "request");
    const byId = new Map(requests.map((line) => [(line.args?.[0] as { id: string }).id, line]));
    assertEquals(requests.length, REQUESTS + slowIds.length, "one line per request");
    ids.forEach((id, i) => {
      assertEquals(
        byId.get(id)?.worker,
        servedBy[i],
        `the line of ${id}, by the instance that served it`,
      );
    });
    slowIds.forEach((id, i) => {
      assertEquals(slowServedBy[i][0], 200, `${id} was answered after the SIGTERM`);
      const line = byId.get(id);
      assertEquals(line?.worker, slowServedBy[i][1], `the line ${id} logged after the SIGTERM`);
      const sigterm = stopping.find((stop) => stop.worker === line!.worker)!;
      assert(line!.seq > sigterm.seq, `${id}'s line was logged after its instance got SIGTERM`);
    });
    assertEquals(lines.length, REQUESTS + 2 * slowIds.length + 8);
    const served = Map.groupBy(servedBy, (name) => name);
    assert(served.size >= 2, `the requests were spread over instances (${[...served.keys()]})`);
    console.log(
      `  ${REQUESTS} requests served by ${served.size} instances: ${
        [...served.values()].map((names) => names.length).join(", ")
      }`,
    );
  } finally {
    closeClient();
    kill(serve);
    await serve.process.status;
  }
});

const INSTANCE = fixture("serve_instance.ts").pathname;
const INSTANCE_PERMISSIONS = ["--allow-read", "--allow-write", "--allow-net"];

// A socket file nobody listens on, as a SIGKILLed writer leaves one: Deno
// removes a Unix socket's file when its listener closes, so the file is
// moved aside while it closes and then put back.
async function leaveStaleSocket(path: string) {
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.rename(path, `${path}.aside`);
  listener.close();
  await Deno.rename(`${path}.aside`, path);
  assert((await Deno.lstat(path)).isSocket, "a socket file is left");
  assert(!await isListening(path), "the stale socket refuses connections");
}

Deno.test("serve: processes that race for one socket elect exactly one writer, replacing a stale socket", async () => {
  await using dir = await tempDir();
  const socket = dir.file("log.sock");
  const file = dir.file("app.log");
  await leaveStaleSocket(socket);
  const count = 2_000;
  const instances = [0, 1, 2, 3].map((i) =>
    startChild(
      [
        "run",
        ...INSTANCE_PERMISSIONS,
        INSTANCE,
        socket,
        file,
        `racer-${i}`,
        `${count}`,
        "0",
        "0",
        "5000",
        "hold",
      ],
      {},
      true,
    )
  );
  try {
    await waitFor(
      "every racer to have its records written",
      () => instances.every((child) => events(child, "flushed").length === 1),
      20_000,
    );
    const writers = instances.filter((child) => events(child, "flushed")[0].writer === true);
    assertEquals(writers.length, 1, "exactly one writer among the racers");
    assertEquals(
      instances.map((child) => events(child, "writer").length),
      instances.map((child) => (child === writers[0] ? 1 : 0)),
      "no other racer was ever the writer",
    );
    assert(await isListening(socket), "the stale socket was replaced: the writer listens there");
    for (const file of ["log.sock.lock", "log.sock.token"]) {
      assertEquals((await Deno.stat(dir.file(file))).mode! & 0o777, 0o600, `${file} is 0600`);
    }
    for (const child of instances) await child.process.stdin.close();
    for (const [i, child] of instances.entries()) {
      const status = await exited(child, `racer-${i}`);
      assertEquals(status.code, 0, `racer-${i}: ${await child.stderr}`);
      const { stats } = events(child, "end")[0] as { stats: { sender: { acknowledged: number } } };
      assertEquals(stats.sender.acknowledged, count);
    }
  } finally {
    instances.forEach(kill);
  }
  assert(!await Deno.lstat(socket).then(() => true, () => false), "the last writer removed it");
  const counts = assertCompleteAndOrdered(senderRecords(await readJsonLines(file)));
  assertEquals([...counts.entries()].sort(), [0, 1, 2, 3].map((i) => [`racer-${i}`, count]));
});

Deno.test("serve: the writer is SIGKILLed while others log; one takes over, nothing is lost or written twice", async () => {
  await using dir = await tempDir();
  const socket = dir.file("log.sock");
  const file = dir.file("app.log");
  const count = 6_000; // 120 pauses of 10 ms: the survivors still log at the kill on a busy machine
  const instances = [0, 1, 2].map((i) =>
    startChild([
      "run",
      ...INSTANCE_PERMISSIONS,
      INSTANCE,
      socket,
      file,
      `inst-${i}`,
      `${count}`,
      "50",
      "10",
      "4000",
    ])
  );
  try {
    await waitFor(
      "an instance to become the writer",
      () => instances.some((child) => events(child, "writer").length > 0),
      20_000,
    );
    const victim = instances.find((child) => events(child, "writer").length > 0)!;
    const victimName = `inst-${instances.indexOf(victim)}`;
    const ackedByVictim = () =>
      Math.max(0, ...events(victim, "acked").map((line) => line.acked as number));
    const appended = new AppendedLines(file);
    const filed = new Set<string>();
    await waitFor(
      "the writer to write records of every instance, its own acknowledged",
      async () => {
        for (const line of await appended.next()) filed.add(JSON.parse(line).worker);
        return ackedByVictim() > 0 && [0, 1, 2].every((i) => filed.has(`inst-${i}`));
      },
    );
    const acked = ackedByVictim();
    const killedAt = Date.now();
    victim.process.kill("SIGKILL");
    await victim.process.status;
    const survivors = instances.filter((child) => child !== victim);
    assert(
      survivors.every((child) => events(child, "flushed").length === 0),
      "the others were still logging when the writer was killed",
    );
    for (const child of survivors) {
      const status = await exited(child, "a survivor", 20_000);
      assertEquals(status.code, 0, await child.stderr);
      const { stats } = events(child, "end")[0] as {
        stats: { sender: { acknowledged: number; dropped: number; connections: number } };
      };
      assertEquals([stats.sender.acknowledged, stats.sender.dropped], [count, 0]);
      assert(stats.sender.connections >= 2, "it reconnected to the new writer");
    }
    // Writers in turn, never two at once: each starts after the last stopped.
    const terms = survivors.flatMap((child) => {
      const changes = events(child, "writer") as { writing: boolean; at: number }[];
      return changes.filter((change) => change.writing).map((start) => ({
        start: start.at,
        end: changes.find((change) => !change.writing && change.at >= start.at)?.at ?? Infinity,
      }));
    }).sort((a, b) => a.start - b.start);
    assert(terms.length >= 1, "a survivor took over");
    assert(terms[0].start >= killedAt, "it took over after the kill");
    terms.slice(1).forEach((term, i) => assert(term.start >= terms[i].end, "two writers at once"));

    const counts = assertCompleteAndOrdered(senderRecords(await readJsonLines(file)));
    for (const child of survivors) {
      const name = `inst-${instances.indexOf(child)}`;
      assertEquals(counts.get(name), count, `every record of ${name}, once, in order`);
    }
    const kept = counts.get(victimName) ?? 0;
    assert(
      kept >= acked,
      `the ${acked} records the killed writer had acknowledged are there (${kept})`,
    );
    console.log(
      `  killed the writer after ${acked} of its own records were acknowledged; ${kept} kept`,
    );
  } finally {
    instances.forEach(kill);
  }
});

for (const [kind, handler] of [["file", "FileHandler"], ["batch", "BatchFileHandler"]] as const) {
  Deno.test(`serve: a ${handler} that would truncate on takeover is refused; the instance says what it could not deliver`, async () => {
    await using dir = await tempDir();
    const child = startChild([
      "run",
      ...INSTANCE_PERMISSIONS,
      fixture("serve_truncating.ts").pathname,
      dir.file("log.sock"),
      dir.file("app.log"),
      kind,
    ]);
    try {
      const status = await exited(child, `the instance with a truncating ${handler}`);
      assertEquals(status.code, 0);
      const stderr = await child.stderr;
      assertStringIncludes(stderr, `"${handler} (mode w)"`);
      assertStringIncludes(stderr, "handlers that append");
      assertEquals(stderr.split("This instance was elected").length - 1, 1, `once: ${stderr}`);
      assertStringIncludes(stderr, "is ending without 1 records");
      const [line] = child.lines as { writerError: string }[];
      assertStringIncludes(line.writerError, "could not start");
    } finally {
      kill(child);
    }
  });
}

Deno.test("serve: an onWriterChange that throws is reported, and the instance writes and ends as usual", async () => {
  await using dir = await tempDir();
  const child = startChild([
    "run",
    ...INSTANCE_PERMISSIONS,
    fixture("serve_throwing_callback.ts").pathname,
    dir.file("log.sock"),
    dir.file("app.log"),
  ]);
  try {
    const status = await exited(child, "the instance with a throwing onWriterChange");
    const stderr = await child.stderr;
    assertEquals(status.code, 0, stderr);
    assertStringIncludes(stderr, "onWriterChange threw (the callback failed (writing: true))");
    assertStringIncludes(stderr, "onWriterChange threw (the callback failed (writing: false))");
    const lines = senderRecords(await readJsonLines(dir.file("app.log")));
    assertEquals(lines.map((line) => line.msg), ["written all the same"]);
  } finally {
    kill(child);
  }
});

Deno.test("serve: bad options are refused before anything starts", async () => {
  await using dir = await tempDir();
  const handlers = () => [new FileHandler("INFO", { filename: dir.file("app.log") })];
  const refused = (options: unknown, option: string, text: string) => {
    const error = assertThrows(
      () => setupSharedLogging(options as Parameters<typeof setupSharedLogging>[0]),
      InvalidOptionError,
    );
    assertEquals(error.option, option);
    assertStringIncludes(error.message, text);
  };
  refused({ path: "log.sock", handlers }, "path", "an absolute path");
  refused({ path: `/tmp/${"x".repeat(120)}.sock`, handlers }, "path", "at most 107 bytes");
  refused({ path: dir.file("log.sock"), handlers: [] }, "handlers", "a function");
  refused({ path: dir.file("log.sock"), handlers, token: "short" }, "token", "16 to 512");
  refused({ path: dir.file("log.sock"), handlers, lingerMs: -1 }, "lingerMs", "whole number");
  refused(
    { path: dir.file("log.sock"), handlers, onWriterChange: "x" },
    "onWriterChange",
    "a function",
  );
  // The writer's listener options are checked here, not at an election.
  refused(
    { path: dir.file("log.sock"), handlers, listenerOptions: { maxInFlight: -1 } },
    "maxInFlight",
    "whole number",
  );
  assertEquals([...Deno.readDirSync(dir.path)], [], "nothing was created");
  const open = dir.file("open");
  await Deno.mkdir(open, { mode: 0o755 });
  await Deno.chmod(open, 0o755);
  refused({ path: `${open}/log.sock`, handlers }, "path", "chmod 700");
  assertEquals([...Deno.readDirSync(open)], [], "nothing was created");
  // A token file the listener could not use (too short, too long, a
  // control character) is refused at setup, saying what to do.
  const shared = dir.file("shared");
  await Deno.mkdir(shared, { mode: 0o700 });
  for (const token of ["short", "x".repeat(600), `${"a".repeat(20)}\u0007b`]) {
    await Deno.writeTextFile(`${shared}/log.sock.token`, token, { mode: 0o600 });
    refused({ path: `${shared}/log.sock`, handlers }, "token", "remove it and a new one");
  }
});
