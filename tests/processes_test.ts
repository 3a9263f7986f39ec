// Other processes log into one listener over its socket: real child
// processes, a real Unix socket, every record counted.
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { InvalidOptionError, QueueListener } from "@workerlog/workerlog";
import {
  AppendedLines,
  assertCompleteAndOrdered,
  CHILD_DEADLINE_MS,
  fixture,
  jsonFile,
  type JsonLine,
  readJsonLines,
  readLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

// A Unix socket needs net access to "unix:PATH" and read and write access to PATH.
const CHILD_PERMISSIONS = ["--allow-env", "--allow-net", "--allow-read", "--allow-write"];

/** A child process running a fixture; killed by the test if still running at the end. */
function start(name: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...CHILD_PERMISSIONS, fixture(name).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
  }).spawn();
}

async function finished(child: Deno.ChildProcess, what: string) {
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, `${what} exited with ${code}: ${new TextDecoder().decode(stderr)}`);
  return out;
}

function kill(child: Deno.ChildProcess) {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/** The records of the senders (not the listener's own notices). */
function records(lines: JsonLine[]): JsonLine[] {
  return lines.filter((line) => line.logger !== "workerlog");
}

Deno.test("processes: 4 children x 100,000 records, each (sender, seq) once and in order", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const children: Deno.ChildProcess[] = [];
  try {
    const { env, address } = await listener.listen();
    assert(address.startsWith("unix:"), address);
    const socket = address.slice(5);
    assertEquals(Deno.statSync(socket).mode! & 0o777, 0o600, "the socket file is 0600");
    assertEquals(
      Deno.statSync(socket.slice(0, socket.lastIndexOf("/"))).mode! & 0o777,
      0o700,
      "its directory is 0700",
    );
    for (let i = 0; i < 4; i++) {
      children.push(
        start("process_logger.ts", ["100000"], { ...env, WORKERLOG_NAME: `child-${i}` }),
      );
    }
    for (const [i, child] of children.entries()) {
      const stats = JSON.parse(await finished(child, `child-${i}`));
      assertEquals(stats.dropped, 0);
      assertEquals(stats.unacknowledgedRecords, 0);
      assertEquals(stats.acknowledged, 100_000);
    }
  } finally {
    children.forEach(kill);
    await listener.stop();
  }
  const lines = await readJsonLines(file);
  const counts = assertCompleteAndOrdered(records(lines));
  assertEquals(
    [...counts.entries()].sort(),
    [0, 1, 2, 3].map((i) => [`child-${i}`, 100_000]),
  );
  // The unlisted logger "db" was noticed once (the notice names the first child that used it).
  assertEquals(lines.filter((line) => line.msg.startsWith('Logger "db" is not listed')).length, 1);
  const stats = listener.stats();
  assertEquals(stats.dispatched, 400_000); // the notice is the listener's own, not counted
  assertEquals(stats.peers?.accepted, 4);
  assertEquals(stats.refusedPeers, 0);
  assertEquals(stats.peers?.duplicates, 0);
});

Deno.test("processes: the listener is SIGKILLed and restarted; nothing lost, nothing twice", async () => {
  await using dir = await tempDir(); // 0700: the socket's directory
  const file = dir.file("out.log");
  const path = dir.file("listener.sock");
  const token = "a-token-both-listeners-share";
  const env = {
    WORKERLOG_ADDRESS: `unix:${path}`,
    WORKERLOG_TOKEN: token,
    WORKERLOG_LEVEL: "INFO",
  };
  const count = 10_000;
  const processes: Deno.ChildProcess[] = [];
  try {
    const first = await startListener(path, token, file);
    processes.push(first.child);
    const children = [0, 1, 2, 3].map((i) =>
      start("process_logger.ts", [String(count), "100", "20"], {
        ...env,
        WORKERLOG_NAME: `child-${i}`,
      })
    );
    processes.push(...children);
    // Kill it while the children are logging: once the file has records of each.
    const appended = new AppendedLines(file);
    const filed = new Set<string>();
    await waitFor("the first listener to write records of every child", async () => {
      for (const line of await appended.next()) filed.add(JSON.parse(line).worker);
      return [0, 1, 2, 3].every((i) => filed.has(`child-${i}`));
    });
    first.child.kill("SIGKILL");
    await first.child.status;
    const written = await newlines(file);
    assert(written < 4 * count, `the children were still logging when it was killed (${written})`);
    const second = await startListener(path, token, file);
    processes.push(second.child);
    for (const [i, child] of children.entries()) {
      const stats = JSON.parse(await finished(child, `child-${i}`));
      assertEquals(stats.dropped, 0, `child-${i} dropped nothing`);
      assertEquals(stats.acknowledged, count);
      assert(stats.connections >= 2, `child-${i} reconnected (${stats.connections} connections)`);
    }
    second.child.kill("SIGTERM");
    assertEquals((await second.child.status).code, 0, "the second listener stopped cleanly");
    const listenerStats = JSON.parse(await second.rest);
    assertEquals(listenerStats.peers.accepted, 4);
    console.log(
      `  killed after ${written} lines; the restarted listener dropped ` +
        `${listenerStats.peers.duplicates} resent records that the file already had`,
    );
  } finally {
    processes.forEach(kill);
  }
  const counts = assertCompleteAndOrdered(records(await readJsonLines(file)));
  assertEquals(
    [...counts.entries()].sort(),
    [0, 1, 2, 3].map((i) => [`child-${i}`, count]),
  );
});

/** Lines in a file so far (it may end in the middle of one). */
async function newlines(file: string): Promise<number> {
  const bytes = await Deno.readFile(file).catch(() => new Uint8Array());
  let count = 0;
  for (const byte of bytes) if (byte === 10) count++;
  return count;
}

async function startListener(path: string, token: string, file: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture("process_listener.ts").pathname, path, token, file],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assertEquals(value?.trim(), "ready", "the listener process says it listens");
  // The rest of its stdout: its stats, once it stops.
  const rest = (async () => {
    let text = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    return text;
  })();
  return { child, rest };
}

Deno.test("processes: a wrong token is refused and counted; the sender says why", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const { env } = await listener.listen();
  const child = start("process_wrong_token.ts", [], env);
  let out: string;
  try {
    out = await finished(child, "the child with a wrong token");
  } finally {
    kill(child);
  }
  const stats = JSON.parse(out);
  assertStringIncludes(stats.refusal, "wrong token");
  assertEquals(stats.connections, 0);
  assertEquals(listener.stats().peers?.refusedBy.token, 1);
  assertEquals(listener.stats().refusedPeers, 1);
  assertEquals(listener.stats().received, 0);
  await listener.stop();
  assertEquals(await readLines(file), []);
});

Deno.test("processes: another OS user cannot connect to the Unix socket", async () => {
  await using listener = new QueueListener([]).start();
  const { address } = await listener.listen();
  const path = address.slice("unix:".length);
  const attempt = async (asUser: string[]) => {
    const { stdout } = await new Deno.Command(asUser[0] ?? Deno.execPath(), {
      args: [
        ...asUser.slice(1),
        ...(asUser.length ? [Deno.execPath()] : []),
        "run",
        "--allow-all",
        fixture("process_connect.ts").pathname,
        path,
      ],
      env: { DENO_DIR: "/tmp/workerlog_test_nobody_deno", HOME: "/tmp" },
      cwd: "/tmp",
    }).output();
    return new TextDecoder().decode(stdout).trim();
  };
  // The same program as this user connects, so what refuses "nobody" is the permission.
  assertEquals(await attempt([]), "connected");
  assertEquals(await attempt(["runuser", "-u", "nobody", "--"]), "PermissionDenied");
});

Deno.test("processes: over TCP on loopback, with the token, every record once and in order", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const children: Deno.ChildProcess[] = [];
  try {
    const { env, address } = await listener.listen({ transport: "tcp" });
    assert(address.startsWith("tcp:127.0.0.1:"), address);
    for (let i = 0; i < 2; i++) {
      children.push(start("process_logger.ts", ["5000"], { ...env, WORKERLOG_NAME: `tcp-${i}` }));
    }
    for (const [i, child] of children.entries()) {
      const stats = JSON.parse(await finished(child, `tcp-${i}`));
      assertEquals([stats.dropped, stats.acknowledged], [0, 5_000]);
    }
  } finally {
    children.forEach(kill);
    await listener.stop();
  }
  const counts = assertCompleteAndOrdered(records(await readJsonLines(file)));
  assertEquals([...counts.entries()].sort(), [["tcp-0", 5_000], ["tcp-1", 5_000]]);
  assertEquals(listener.stats().refusedPeers, 0);
});

Deno.test("processes: TCP listening refuses an address that is not loopback", async () => {
  await using listener = new QueueListener([]).start();
  const error = await assertRejects(
    () => listener.listen({ transport: "tcp", hostname: "0.0.0.0" }),
    InvalidOptionError,
    'between hosts use transport "tls"',
  );
  assertEquals(error.option, "hostname");
  assertStringIncludes(error.message, "0.0.0.0");
  assertEquals(listener.stats().peers, undefined, "it does not listen");
});
