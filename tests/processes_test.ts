// Other processes log into one listener over its socket: real child
// processes, a real Unix socket, every record counted. Then the same over
// TLS, as senders on other hosts connect (below).
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { InvalidOptionError, type ListenOptions, QueueListener, spawn } from "@workerlog/workerlog";
import {
  decodeFrame,
  type Frame,
  FrameEncoder,
  FrameReader,
  newSession,
  PROTOCOL_VERSION,
  REFUSED,
} from "../common/_frames.ts";
import {
  AppendedLines,
  assertCompleteAndOrdered,
  CHILD_DEADLINE_MS,
  fixture,
  jsonFile,
  readJsonLines,
  readLines,
  senderRecords,
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
  const counts = assertCompleteAndOrdered(senderRecords(lines));
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
  const counts = assertCompleteAndOrdered(senderRecords(await readJsonLines(file)));
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

Deno.test("processes: a flush() while the socket waits for its WELCOME keeps the child alive until the record is written", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([jsonFile(file)]).start();
  const { address, token } = await listener.listen();
  // Between the child and the listener: a socket that accepts at once, and
  // passes the child's hello on only after the child has flushed.
  using proxy = Deno.listen({ transport: "unix", path: dir.file("proxy.sock") });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CHILD_PERMISSIONS,
      fixture("exit_flush_before_welcome.ts").pathname,
      `unix:${dir.file("proxy.sock")}`,
      token,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const conns: Deno.Conn[] = [];
  let piping: Promise<unknown> = Promise.resolve();
  try {
    const fromChild = await proxy.accept();
    conns.push(fromChild);
    const hello = new Uint8Array(64 * 1024);
    const read = await fromChild.read(hello); // its socket is open; it waits for the WELCOME
    assert(read !== null, "the child sent its hello");
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("go\n"));
    await stdin.close();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("flushing\n")) {
      const { value, done } = await stdout.read();
      if (done) break;
      out += value;
    }
    assertStringIncludes(out, "flushing", "the child flushed");
    // A child that nothing keeps alive ends at once: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const toListener = await Deno.connect({ transport: "unix", path: address.slice(5) });
    conns.push(toListener);
    await toListener.write(hello.subarray(0, read));
    piping = Promise.all([
      fromChild.readable.pipeTo(toListener.writable),
      toListener.readable.pipeTo(fromChild.writable),
    ]).catch(() => {});
    for (let r = await stdout.read(); !r.done; r = await stdout.read()) out += r.value;
    const { code } = await child.status;
    assertEquals(code, 0, await stderr);
    assertEquals(out, "flushing\nflushed\n", "the flush resolved before the child ended");
  } finally {
    kill(child);
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed by its stream.
      }
    }
    await piping;
    await stderr;
  }
  assertEquals(
    (await readJsonLines(file)).map((line) => [line.worker, line.msg]),
    [["late-welcome", "logged before the welcome"]],
  );
});

Deno.test("processes: without env access, setupProcessLogging() needs no variable whose option is given; a missing one is named", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([jsonFile(file)]).start();
  const { address, token } = await listener.listen({ transport: "tcp" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      fixture("exit_no_env.ts").pathname,
      address,
      token,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
  }).spawn();
  let out: string;
  try {
    out = await finished(child, "the child without --allow-env");
  } finally {
    kill(child);
  }
  const { acknowledged, errors } = JSON.parse(out);
  assertEquals(acknowledged, 1, "WORKERLOG_LEVEL, which it may not read, counts as unset");
  for (
    const [error, option, variable] of [
      [errors[0], "address", "WORKERLOG_ADDRESS"],
      [errors[1], "token", "WORKERLOG_TOKEN"],
    ]
  ) {
    assertEquals([error?.name, error?.option], ["InvalidOptionError", option]);
    assertStringIncludes(error.message, `pass it, or run with --allow-env=${variable}`);
    assertStringIncludes(error.message, `Requires env access to "${variable}"`);
  }
  await listener.stop();
  assertEquals(
    (await readJsonLines(file)).map((line) => [line.worker, line.msg]),
    [["no-env", "logged without env access"]],
  );
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
  const counts = assertCompleteAndOrdered(senderRecords(await readJsonLines(file)));
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

// Senders on other hosts connect with TLS: a throwaway CA and a server
// certificate for 127.0.0.1 made with openssl for each run, a real child
// process that trusts the CA, and peers that do not (or speak plain TCP, or
// bring the wrong token), each refused, closed and counted.

const RECORDS = 5_000;

interface Pki {
  /** The CA's certificate (PEM): what a sender trusts. */
  ca: string;
  caFile: string;
  /** The listener's certificate (for 127.0.0.1 and localhost) and its key. */
  cert: string;
  key: string;
  /** A key that is not the certificate's (the CA's own). */
  otherKey: string;
}

async function openssl(dir: string, ...args: string[]) {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
  } catch (error) {
    throw new Error(`openssl is needed to make test certificates (.ci/install_packages): ${error}`);
  }
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, `openssl ${args.join(" ")} failed: ${stderr}`);
}

/** A CA, and a certificate it signed for 127.0.0.1 and localhost, in `dir`. */
async function makePki(dir: string): Promise<Pki> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    ...["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1"],
    ...["-subj", "/CN=workerlog test CA", "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  await openssl(
    dir,
    ...["req", "-new", ...ec, "-keyout", "server.key", "-out", "server.csr"],
    ...["-subj", "/CN=localhost"],
  );
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    ...["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext"],
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return {
    ca: await read("ca.pem"),
    caFile: `${dir}/ca.pem`,
    cert: await read("server.pem"),
    key: await read("server.key"),
    otherKey: await read("ca.key"),
  };
}

/** A child running tls_logger.ts: it trusts `caFile` ("-": only the system's CAs). */
function startChild(env: Record<string, string>, caFile: string, count: number, wait = false) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-net",
      "--allow-read",
      fixture("tls_logger.ts").pathname,
      caFile,
      String(count),
      ...(wait ? ["wait"] : []),
    ],
    env,
    stdin: wait ? "piped" : "null",
    signal: AbortSignal.timeout(CHILD_DEADLINE_MS),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function statsOf(child: Deno.ChildProcess, what: string) {
  const { code, stdout, stderr } = await child.output();
  assertEquals(code, 0, `${what} exited with ${code}: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** Reads what the listener sends until it closes the connection (fails after 5 s). */
async function untilClosed(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) {
          throw new Error("the listener did not close the connection within 5 s");
        }
        return new Uint8Array(chunks); // reset by the listener: closed too
      }
      if (count === null) return new Uint8Array(chunks);
      chunks.push(...buffer.subarray(0, count));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed above.
    }
  }
}

function framesOf(bytes: Uint8Array): Frame[] {
  const reader = new FrameReader();
  reader.helloOnly = false;
  reader.space().set(bytes);
  reader.wrote(bytes.length);
  const frames: Frame[] = [];
  for (let f = reader.next(); f; f = reader.next()) frames.push(decodeFrame(f.type, f.body));
  return frames;
}

Deno.test("tls: a child process logs over TLS; untrusting, plain-TCP and wrong-token peers are refused", async () => {
  await using dir = await tempDir();
  const pki = await makePki(dir.path);
  const file = dir.file("out.log");
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const children: Deno.ChildProcess[] = [];
  try {
    const { env, address } = await listener.listen({
      transport: "tls",
      hostname: "127.0.0.1",
      cert: pki.cert,
      key: pki.key,
    });
    assert(address.startsWith("tls:127.0.0.1:"), address);
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    const refusedBy = () => listener.stats().peers!.refusedBy;

    const good = startChild({ ...env, WORKERLOG_NAME: "tls-child" }, pki.caFile, RECORDS);
    children.push(good);
    await waitFor("the child to connect over TLS", () => listener.stats().peers!.accepted === 1);

    // The right CA but the wrong token: the hello is refused, with the reason.
    const wrongToken = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pki.ca] });
    await wrongToken.write(
      new FrameEncoder().hello({
        version: PROTOCOL_VERSION,
        token: "not-the-listener-token",
        name: "intruder",
        pid: 1,
        session: newSession(),
        resuming: false,
      }),
    );
    const answer = framesOf(await untilClosed(wrongToken));
    assertEquals(answer.length, 1);
    assert(answer[0].type === REFUSED, `a REFUSED frame, not ${answer[0].type}`);
    assertStringIncludes(answer[0].reason, "wrong token");
    assertEquals(refusedBy().token, 1);

    // A client that does not trust the CA aborts the handshake: the listener
    // sees it fail and counts it.
    await assertRejects(
      async () => {
        const untrusting = await Deno.connectTls({ hostname: "127.0.0.1", port });
        try {
          await untrusting.handshake();
        } finally {
          untrusting.close();
        }
      },
      Deno.errors.InvalidData,
      "UnknownIssuer",
    );
    await waitFor("the failed handshake to be counted", () => refusedBy().tls === 1);

    // Plain TCP to the TLS port: an HTTP request is no TLS handshake. The
    // listener answers with at most a TLS alert and closes.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const alert = await untilClosed(plain);
    assert(alert.length <= 7, `at most a TLS alert came back, not ${alert.length} bytes`);
    assert(alert.length === 0 || alert[0] === 21, "a TLS alert record (content type 21)");
    await waitFor("the plain TCP peer to be counted", () => refusedBy().tls === 2);

    const stats = await statsOf(good, "the TLS child");
    assertEquals(
      [stats.connected, stats.connections, stats.acknowledged, stats.dropped],
      [true, 1, RECORDS, 0],
      "the child connected once, never lost the connection, and everything was written",
    );
  } finally {
    children.forEach(kill);
    await listener.stop();
  }
  const lines = await readJsonLines(file);
  assertEquals(assertCompleteAndOrdered(lines).get("tls-child"), RECORDS);
  assertEquals(lines.length, RECORDS, "nothing from a refused peer reached the file");
  const peers = listener.stats().peers!;
  assertEquals([peers.accepted, peers.refused], [1, 3]);
  assertEquals([peers.refusedBy.token, peers.refusedBy.tls], [1, 2]);
});

Deno.test("tls: spawn() refuses a listener that listens over TLS, before any process starts", async () => {
  await using dir = await tempDir();
  const pki = await makePki(dir.path);
  await using listener = new QueueListener([]).start();
  const { address } = await listener.listen({ transport: "tls", cert: pki.cert, key: pki.key });
  // Its processes would get the address and the token only, no CA: every
  // record would be lost. The signal bounds a run that is not refused.
  const error = await assertRejects(
    () =>
      spawn(fixture("process_spawn_count.ts"), {
        count: 1,
        args: { records: 1 },
        listener,
        processes: { permissions: [] },
        signal: AbortSignal.timeout(10_000),
      }),
    InvalidOptionError,
  );
  assertEquals([error.option, error.value], ["listener", address]);
  for (
    const says of ["Unix socket (listen())", 'TCP (listen({ transport: "tcp" }))', "not listen yet"]
  ) {
    assertStringIncludes(error.message, says);
  }
  const peers = listener.stats().peers!;
  assertEquals([peers.accepted, peers.refused], [0, 0], "no process has connected");
});

/** A certificate the CA in `dir` signed for `name` only (with the listener's key). */
async function makeCertFor(dir: string, name: string): Promise<string> {
  await openssl(
    dir,
    ...["req", "-new", "-key", "server.key", "-out", "other.csr", "-subj", `/CN=${name}`],
  );
  await Deno.writeTextFile(`${dir}/other.ext`, `subjectAltName=DNS:${name}\n`);
  await openssl(
    dir,
    ...["x509", "-req", "-in", "other.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "other.pem", "-days", "1", "-extfile", "other.ext"],
  );
  return await Deno.readTextFile(`${dir}/other.pem`);
}

/**
 * Runs tls_logger.ts in "wait" mode against a listener it cannot trust,
 * until it has printed why; then asks it for its stats. Returns them and
 * everything it printed to stderr.
 */
async function refusedChild(listener: QueueListener, env: Record<string, string>, caFile: string) {
  const child = startChild(env, caFile, 1, true);
  try {
    let stderr = "";
    const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (stderr += chunk) }),
    );
    await waitFor(
      `${env.WORKERLOG_NAME} to print why it cannot connect`,
      () => stderr.includes("workerlog: the listener refused"),
    );
    await waitFor(
      "the listener to see the handshake fail",
      () => listener.stats().peers!.refusedBy.tls >= 1,
    );
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("report\n"));
    await writer.close();
    const [stdout, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
    await reading;
    assertEquals(status.code, 0, `${env.WORKERLOG_NAME} exited with ${status.code}: ${stderr}`);
    return { stats: JSON.parse(stdout), stderr };
  } finally {
    kill(child);
  }
}

Deno.test("tls: a sender that does not trust the certificate never connects, and says why", async () => {
  await using dir = await tempDir();
  const pki = await makePki(dir.path);
  const wrongName = await makeCertFor(dir.path, "elsewhere.invalid");
  const file = dir.file("out.log");
  const otherFile = dir.file("other.log");
  // One listener whose certificate the sender has no CA for, and one whose
  // certificate it trusts but that is for another name than 127.0.0.1.
  const untrusted = new QueueListener([
    jsonFile(file),
  ]).start();
  const misnamed = new QueueListener([
    jsonFile(otherFile),
  ]).start();
  try {
    const [first, second] = await Promise.all([
      untrusted.listen({ transport: "tls", cert: pki.cert, key: pki.key }),
      misnamed.listen({ transport: "tls", cert: wrongName, key: pki.key }),
    ]);
    const [noCa, otherName] = await Promise.all([
      // setupProcessLogging() without caCerts: it trusts only the system's CAs.
      refusedChild(untrusted, { ...first.env, WORKERLOG_NAME: "untrusting" }, "-"),
      refusedChild(misnamed, { ...second.env, WORKERLOG_NAME: "misnamed" }, pki.caFile),
    ]);
    const cases = [
      { ...noCa, why: "UnknownIssuer" },
      { ...otherName, why: "not valid for name" },
    ];
    for (const { stats, stderr, why } of cases) {
      assertEquals(
        [stats.connected, stats.connections, stats.acknowledged, stats.unacknowledgedRecords],
        [false, 0, 0, 1],
        "it keeps its record and is not connected",
      );
      // stats().refusal, and the one line on stderr, say what failed and what to do.
      assertEquals(typeof stats.refusal, "string", "stats().refusal is set");
      for (const text of [stats.refusal, stderr]) {
        assertStringIncludes(text, "the TLS handshake failed");
        assertStringIncludes(text, why);
        assertStringIncludes(text, "pass the CA that signed the listener's certificate as caCerts");
        assertStringIncludes(text, "connect to a name the certificate holds");
      }
      assertEquals(stderr.match(/workerlog: the listener refused/g)?.length, 1, stderr);
    }
    for (const listener of [untrusted, misnamed]) {
      const peers = listener.stats().peers!;
      assertEquals([peers.accepted, peers.connected], [0, 0]);
      assertEquals(peers.refused, peers.refusedBy.tls, "every refusal was a failed handshake");
      assertEquals(listener.stats().received, 0);
    }
  } finally {
    await untrusted.stop();
    await misnamed.stop();
  }
  assertEquals(await Deno.readTextFile(file), "");
  assertEquals(await Deno.readTextFile(otherFile), "");
});

Deno.test("tls: bad cert and key options are InvalidOptionErrors that say what to pass", async () => {
  await using dir = await tempDir();
  const pki = await makePki(dir.path);
  const cases: [ListenOptions, string, string][] = [
    [{ transport: "tls", key: pki.key }, "cert", "-----BEGIN CERTIFICATE-----"],
    [{ transport: "tls", cert: pki.cert }, "key", "PEM text"],
    [{ transport: "tls", cert: "server.pem", key: pki.key }, "cert", "not a file name"],
    [{ transport: "tls", cert: pki.cert, key: "server.key" }, "key", "not a file name"],
    [{ transport: "tls", cert: pki.key, key: pki.key }, "cert", "PEM text"],
    [{ transport: "tls", cert: pki.cert, key: pki.otherKey }, "key", "belongs to the certificate"],
    [
      { transport: "tls", cert: pki.cert.replace(/\n[A-Za-z0-9+/]{20}/, "\n!!!!"), key: pki.key },
      "cert",
      "Deno says",
    ],
    [
      {
        transport: "tls",
        cert: pki.cert,
        key: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
      },
      "key",
      "unencrypted",
    ],
    [{ transport: "tcp", cert: pki.cert, key: pki.key }, "cert", 'for transport "tls"'],
  ];
  for (const [options, option, says] of cases) {
    await using listener = new QueueListener([]).start();
    const error = await assertRejects(() => listener.listen(options), InvalidOptionError);
    assertEquals(error.option, option, error.message);
    assertStringIncludes(error.message, says);
    // A private key never appears in a message.
    assert(!error.message.includes("PRIVATE KEY-----\n"), error.message);
    assert(!error.message.includes(pki.key.split("\n")[1].slice(0, 16)), error.message);
  }
});
