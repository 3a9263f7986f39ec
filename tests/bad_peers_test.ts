// Peers that misbehave on the listener's socket are refused, closed and
// counted, and a well-behaved sender beside them loses nothing. Also: what a
// restarted listener does with what a sender resends.
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { FileHandler, Logger } from "@std/log";
import {
  InvalidOptionError,
  jsonLinesFormatter,
  ListenerStateError,
  ProcessHandler,
  QueueListener,
  readResumePoints,
} from "@workerlog/workerlog";
import {
  ACK,
  concatFrames,
  decodeFrame,
  DROPPED,
  FLUSH,
  FLUSHED,
  type Frame,
  FrameEncoder,
  FrameReader,
  newSession,
  PROTOCOL_VERSION,
  REFUSED,
  WELCOME,
} from "../common/_frames.ts";
import { directoryOf } from "../common/_address.ts";
import { LINES } from "../common/_wire.ts";
import { BatchBuilder } from "../sender/_batch_builder.ts";
import {
  assertCompleteAndOrdered,
  freePort,
  jsonFile,
  readJsonLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const TOKEN = "the-right-token-for-these-tests";
const encoder = new FrameEncoder();

/** A started, listening listener writing JSON Lines to `file`, with short deadlines. */
async function listening(file: string) {
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const info = await listener.listen({
    token: TOKEN,
    helloTimeoutMs: 2_000, // the good senders must never run into them, even on a busy machine
    frameTimeoutMs: 2_000,
    maxPendingPeers: 8,
  });
  return { listener, path: info.address.slice("unix:".length), address: info.address };
}

function hello(
  name: string,
  token = TOKEN,
  version = PROTOCOL_VERSION,
  session = newSession(),
) {
  return encoder.hello({ version, token, name, pid: 1, session, resuming: false });
}

/** Reads until one whole frame has arrived; returns it (fails after 5 s). */
async function nextFrame(conn: Deno.Conn): Promise<Frame> {
  const reader = new FrameReader();
  reader.helloOnly = false;
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    for (;;) {
      const frame = reader.next();
      if (frame) return decodeFrame(frame.type, frame.body);
      const count = await conn.read(reader.space()).catch(() => null);
      if (count === null) throw new Error("the listener sent no whole frame within 5 s");
      reader.wrote(count);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Reads frames until the peer closes; returns them (fails after 10 s). */
async function framesUntilClosed(conn: Deno.Conn): Promise<Frame[]> {
  const reader = new FrameReader();
  reader.helloOnly = false;
  const frames: Frame[] = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, 10_000);
  try {
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(reader.space());
      } catch (error) {
        if (timedOut) throw new Error("the listener did not close the connection within 10 s");
        // A socket closed with bytes of ours still unread is reset, not ended.
        if (error instanceof Deno.errors.ConnectionReset) return frames;
        throw error;
      }
      if (count === null) return frames;
      reader.wrote(count);
      for (let f = reader.next(); f; f = reader.next()) frames.push(decodeFrame(f.type, f.body));
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Logs `count` records from a well-behaved sender in this process, and waits until written. */
async function goodSender(address: string, count: number) {
  await using handler = new ProcessHandler("INFO", { address, token: TOKEN, name: "good" });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (let i = 0; i < count; i++) {
    logger.info(`good ${i}`);
    if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 1));
  }
  await handler.flush();
}

async function connect(path: string) {
  return await Deno.connect({ transport: "unix", path });
}

/** The good sender's records are all in the file, once, in order. */
async function assertGoodComplete(file: string, count: number) {
  const lines = (await readJsonLines(file)).filter((line) => line.logger !== "workerlog");
  assertEquals(assertCompleteAndOrdered(lines).get("good"), count);
  assertEquals(lines.length, count, "no record from a bad peer reached the file");
}

const MIB = 1024 * 1024;

Deno.test("bad peers: garbage bytes are refused at the first header", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path, address } = await listening(file);
  try {
    const conn = await connect(path);
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const good = goodSender(address, 5_000);
    assertEquals(await framesUntilClosed(conn), []);
    await good;
    assertEquals(listener.stats().peers?.refusedBy.garbage, 1);
    assertEquals(listener.stats().refusedPeers, 1);
  } finally {
    await listener.stop();
  }
  await assertGoodComplete(file, 5_000);
});

Deno.test("bad peers: a frame that claims 4 GB is refused from its header, unread", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path, address } = await listening(file);
  try {
    // Before the hello: a hello of 4 GB.
    const early = await connect(path);
    await early.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]));
    // After a valid hello: a batch of 4 GB. Only its 5 header bytes are sent,
    // so the listener can only close it by refusing the header.
    const late = await connect(path);
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, 4]);
    await late.write(new Uint8Array([...hello("claims-4gb"), ...header]));
    const good = goodSender(address, 5_000);
    assertEquals(await framesUntilClosed(early), []);
    const answers = await framesUntilClosed(late);
    assertEquals(answers.map((frame) => frame.type), [WELCOME]);
    await good;
    assertEquals(listener.stats().peers?.refusedBy["too-large"], 2);
  } finally {
    await listener.stop();
  }
  await assertGoodComplete(file, 5_000);
});

Deno.test("bad peers: a wrong token or an unknown version is refused with the reason", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  try {
    const wrongToken = await connect(path);
    await wrongToken.write(hello("intruder", "not-the-right-token-at-all"));
    const tokenAnswer = await framesUntilClosed(wrongToken);
    assertEquals(tokenAnswer.length, 1);
    assert(tokenAnswer[0].type === REFUSED && tokenAnswer[0].reason.includes("wrong token"));
    const wrongVersion = await connect(path);
    await wrongVersion.write(hello("from-the-future", TOKEN, 99));
    const versionAnswer = await framesUntilClosed(wrongVersion);
    assert(versionAnswer[0].type === REFUSED && versionAnswer[0].reason.includes("version 99"));
    const { refusedBy, accepted } = listener.stats().peers!;
    assertEquals([refusedBy.token, refusedBy.version, accepted], [1, 1, 0]);
  } finally {
    await listener.stop();
  }
});

// All three run into their deadline in the same 2 s: silence and a hello
// sent one byte at a time (helloTimeoutMs), and a frame cut short after a
// good hello (frameTimeoutMs).
Deno.test("bad peers: one byte at a time, silence, and a frame cut short run into the deadlines", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path, address } = await listening(file);
  try {
    const silent = await connect(path);
    const slow = await connect(path);
    const bytes = hello("trickle");
    const trickle = (async () => {
      for (const byte of bytes) {
        try {
          await slow.write(new Uint8Array([byte]));
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50)); // the whole hello would take seconds
      }
    })();
    const cut = await connect(path);
    await cut.write(hello("slow-frame"));
    const frame = encoder.numbers(ACK, 0).slice(); // any frame: its first half only
    await cut.write(frame.subarray(0, 3));
    const slowFrames = framesUntilClosed(slow);
    const cutFrames = framesUntilClosed(cut);
    const good = goodSender(address, 5_000);
    assertEquals(await framesUntilClosed(silent), []);
    assertEquals(await slowFrames, []);
    assertEquals((await cutFrames).map((f) => f.type), [WELCOME]);
    await trickle;
    await good;
    const { refusedBy } = listener.stats().peers!;
    assertEquals([refusedBy.silent, refusedBy.slow], [1, 2]);
  } finally {
    await listener.stop();
  }
  await assertGoodComplete(file, 5_000);
});

Deno.test("bad peers: more silent peers than maxPendingPeers are refused at once", async () => {
  await using dir = await tempDir();
  const { listener, path } = await listening(dir.file("out.log"));
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 10; i++) conns.push(await connect(path));
    await waitFor(
      "2 peers over the limit to be refused",
      () => listener.stats().peers!.refusedBy["too-many"] === 2,
    );
  } finally {
    for (const conn of conns) conn.close();
    await listener.stop();
  }
});

Deno.test("restart: a listener resumed from its file writes each resent record once", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  // What a killed listener left: seq 0..4 of "p" whole, and seq 5 cut short.
  const first = await listening(file);
  const session = newSession();
  const builder = new BatchBuilder(10);
  const record = (i: number) =>
    ({
      msg: `r${i}`,
      args: [],
      level: 20,
      loggerName: "app",
      datetime: new Date(0),
    }) as never;
  for (let i = 0; i < 10; i++) builder.addRecord(i, record(i));
  const batch = encoder.batch(builder.take().batch);
  {
    const conn = await connect(first.path);
    await conn.write(
      encoder.hello({ version: 1, token: TOKEN, name: "p", pid: 1, session, resuming: false }),
    );
    await conn.write(batch);
    await waitFor(
      "the batch in the file",
      async () => (await Deno.readTextFile(file)).split("\n").length > 10,
    );
    conn.close();
  }
  await first.listener.stop();
  const text = await Deno.readTextFile(file);
  const lines = text.split("\n");
  await Deno.writeTextFile(file, lines.slice(0, 5).join("\n") + "\n" + lines[5].slice(0, 20));
  const resume = await readResumePoints(file);
  assertEquals([...resume], [["p", 5]]);
  assert((await Deno.readTextFile(file)).endsWith("}\n"), "the cut line is gone");

  // The restarted listener: the sender resends the whole batch twice.
  const listener = new QueueListener([
    new FileHandler("INFO", { filename: file, mode: "a", formatter: jsonLinesFormatter }),
  ]).start();
  try {
    const { address } = await listener.listen({ token: TOKEN, resume });
    const conn = await connect(address.slice(5));
    await conn.write(
      encoder.hello({ version: 1, token: TOKEN, name: "p", pid: 1, session, resuming: true }),
    );
    await conn.write(batch);
    await conn.write(batch);
    await waitFor("both resends counted", () => listener.stats().peers?.duplicates === 15);
    conn.close();
  } finally {
    await listener.stop();
  }
  const counts = assertCompleteAndOrdered(await readJsonLines(file));
  assertEquals(counts.get("p"), 10);
});

Deno.test("bad peers: past maxSenders a new sender is refused, told what to do; others go on", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const conns: Deno.Conn[] = [];
  let good: ProcessHandler | undefined;
  try {
    const { address } = await listener.listen({ token: TOKEN, maxSenders: 2 });
    const path = address.slice("unix:".length);
    const peers = () => listener.stats().peers!;
    // Two senders: "a" by hand, and "good", which logs before and after.
    const session = newSession();
    const a = await connect(path);
    conns.push(a);
    await a.write(hello("a", TOKEN, PROTOCOL_VERSION, session));
    good = new ProcessHandler("INFO", { address, token: TOKEN, name: "good" });
    const logger = new Logger("app", "INFO", { handlers: [good] });
    for (let i = 0; i < 1_000; i++) logger.info(`good ${i}`);
    await good.flush();
    assertEquals(peers().connected, 2);

    // A third is refused, and the reason says what to do.
    const third = await connect(path);
    conns.push(third);
    await third.write(hello("third"));
    const refused = await framesUntilClosed(third);
    assertEquals(refused.length, 1);
    assert(refused[0].type === REFUSED, `a REFUSED frame, not ${refused[0].type}`);
    assertStringIncludes(refused[0].reason, "raise maxSenders");
    assertEquals(peers().refusedBy["too-many-senders"], 1);

    // "a" reconnects while the listener is full: its new socket replaces its
    // old one (which the listener closes) instead of being refused.
    const again = await connect(path);
    conns.push(again);
    await again.write(hello("a", TOKEN, PROTOCOL_VERSION, session));
    assertEquals((await nextFrame(again)).type, WELCOME);
    assertEquals((await framesUntilClosed(a)).map((frame) => frame.type), [WELCOME]);

    // Once "a" has gone, there is room for one more: here a new process
    // under the same name, which its name no longer blocks either.
    again.close();
    await waitFor("a to be gone", () => peers().connected === 1);
    const next = await connect(path);
    conns.push(next);
    await next.write(hello("a"));
    assertEquals((await nextFrame(next)).type, WELCOME);

    for (let i = 1_000; i < 2_000; i++) logger.info(`good ${i}`);
    await good.flush();
    assertEquals(good.stats().connections, 1, "the good sender never lost its connection");
    const { accepted, refusedBy, refused: total } = peers();
    assertEquals([accepted, total, refusedBy["too-many-senders"]], [4, 1, 1]);
  } finally {
    good?.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed by the listener.
      }
    }
    await listener.stop();
  }
  await assertGoodComplete(file, 2_000);
});

Deno.test("bad peers: a sender that never reads its replies is closed at 1 MiB of them", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path, address } = await listening(file);
  try {
    // Every FLUSH is answered; this peer asks for 5 MiB of answers and
    // reads none, so they pile up in the socket and then the listener.
    const conn = await connect(path);
    await conn.write(hello("deaf"));
    const flushes = concatFrames(
      Array.from({ length: 1_000 }, (_, i) => encoder.numbers(FLUSH, i)),
    );
    const replyBytes = encoder.numbers(FLUSHED, 999, 1).length;
    const rounds = Math.ceil(5 * MIB / (replyBytes * 1_000));
    let askedBytes = 0; // what the FLUSHes it got out would be answered with
    const asking = (async () => {
      for (let i = 0; i < rounds; i++) {
        try {
          for (let at = 0; at < flushes.length;) at += await conn.write(flushes.subarray(at));
        } catch {
          return "closed by the listener";
        }
        askedBytes += 1_000 * replyBytes;
      }
      return "never closed";
    })();
    const good = goodSender(address, 5_000);
    await waitFor(
      "the peer that does not read to be closed",
      () => listener.stats().peers!.refusedBy["not-reading"] === 1,
    );
    assertEquals(await asking, "closed by the listener");
    // Not before 1 MiB of answers was owed; far before the 5 MiB it asked for.
    assert(askedBytes >= MIB, `closed after asking for only ${askedBytes} bytes of answers`);
    assert(askedBytes < 4 * MIB, `closed only after asking for ${askedBytes} bytes of answers`);
    await good;
    conn.close();
    assertEquals(listener.stats().peers!.refused, 1);
  } finally {
    await listener.stop();
  }
  await assertGoodComplete(file, 5_000);
});

Deno.test("bad peers: a sender faster than the handlers waits in its socket, not in the listener", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  try {
    // 200 batches of 100 records, written as fast as the socket takes them,
    // acknowledgements never read.
    const builder = new BatchBuilder(100);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      builder.addRecord(i, {
        msg: `fast ${i}`,
        args: [],
        level: 20,
        loggerName: "app",
        datetime: new Date(0),
      } as never);
      if (i % 100 === 99) frames.push(encoder.batch(builder.take().batch));
    }
    const conn = await connect(path);
    await conn.write(hello("fast"));
    const bytes = concatFrames(frames);
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    await waitFor(
      "20,000 records of the fast sender written",
      () => listener.stats().senders.find((s) => s.name === "fast")?.dispatched === 20_000,
    );
    // The listener reads the next bytes only once it has handed the last
    // ones to the handlers: what it holds of this sender is one batch.
    assertEquals(listener.stats().senders.find((s) => s.name === "fast")?.peakInFlight, 100);
    conn.close();
  } finally {
    await listener.stop();
  }
  const lines = (await readJsonLines(file)).filter((line) => line.logger !== "workerlog");
  assertEquals(assertCompleteAndOrdered(lines).get("fast"), 20_000);
});

/** Reads frames until the FLUSHED that answers `id`; returns the frames before it (fails after 5 s). */
async function framesUntilFlushed(conn: Deno.Conn, id: number): Promise<Frame[]> {
  const reader = new FrameReader();
  reader.helloOnly = false;
  const frames: Frame[] = [];
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    for (;;) {
      for (let f = reader.next(); f; f = reader.next()) {
        const frame = decodeFrame(f.type, f.body);
        if (frame.type === FLUSHED && frame.id === id) return frames;
        frames.push(frame);
      }
      const count = await conn.read(reader.space()).catch(() => null);
      if (count === null) throw new Error(`the listener did not answer FLUSH ${id} within 5 s`);
      reader.wrote(count);
    }
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

Deno.test("listen: a listen() that failed leaves the listener free to listen again", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const listener = new QueueListener([
    jsonFile(file),
  ]).start();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const takenPort = (taken.addr as Deno.NetAddr).port;
  try {
    // A bad option: TLS without a certificate.
    const noCert = await assertRejects(
      () => listener.listen({ transport: "tls", token: TOKEN }),
      InvalidOptionError,
    );
    assertEquals(noCert.option, "cert", noCert.message);
    assertStringIncludes(noCert.message, 'for transport "tls"');
    // A port some other socket holds.
    const inUse = await assertRejects(
      () => listener.listen({ transport: "tcp", port: takenPort, token: TOKEN }),
      InvalidOptionError,
      `127.0.0.1:${takenPort} is in use`,
    );
    assertEquals(inUse.option, "port");
    assert(inUse.cause instanceof Deno.errors.AddrInUse);
    // Bad options on a free port: refused before the port is bound.
    const port = freePort();
    for (
      const [bad, option] of [
        [{ maxFrameBytes: 5 }, "maxFrameBytes"],
        [{ resume: { p: -1 } }, "resume.p"],
      ] as const
    ) {
      const error = await assertRejects(
        () => listener.listen({ transport: "tcp", port, token: TOKEN, ...bad }),
        InvalidOptionError,
      );
      assertEquals(error.option, option, error.message);
    }
    assertEquals(listener.stats().peers, undefined, "after four failures it does not listen");

    // Good options, on the port the bad ones named: it listens, and a sender gets through.
    const { address } = await listener.listen({ transport: "tcp", port, token: TOKEN });
    assertEquals(address, `tcp:127.0.0.1:${port}`);
    await goodSender(address, 1_000);
    assertEquals(listener.stats().peers?.accepted, 1);
    // Once it listens, it still listens only once.
    await assertRejects(
      () => listener.listen({ token: TOKEN }),
      ListenerStateError,
      "call listen() once",
    );
  } finally {
    taken.close();
    await listener.stop();
  }
  await assertGoodComplete(file, 1_000);
});

Deno.test("bad peers: a sender naming 1,100 unlisted loggers gets 1,024 notices and one more", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  const LOGGERS = 1_100;
  const name = (i: number) => `unlisted.${i}`;
  try {
    const conn = await connect(path);
    await conn.write(hello("many-loggers"));
    assertEquals((await nextFrame(conn)).type, WELCOME);
    // Per logger: its UNLISTED notice, then one record from it; the first 50
    // loggers are named twice (a reconnecting sender names them again).
    const frames: Uint8Array[] = [];
    const builder = new BatchBuilder(100);
    for (let i = 0; i < LOGGERS; i++) {
      frames.push(encoder.unlisted(name(i), "INFO"));
      if (i >= 100 && i < 150) frames.push(encoder.unlisted(name(i - 100), "INFO"));
      builder.addRecord(i, {
        msg: `from ${name(i)}`,
        args: [],
        level: 20,
        loggerName: name(i),
        datetime: new Date(0),
      } as never);
      if (i % 100 === 99) frames.push(encoder.batch(builder.take().batch));
    }
    frames.push(encoder.numbers(FLUSH, 1));
    await writeAll(conn, concatFrames(frames));
    await framesUntilFlushed(conn, 1);

    const lines = await readJsonLines(file);
    const notices = lines.filter((line) => line.logger === "workerlog");
    assertEquals(notices.length, 1_025, "1,024 notices, then the one that says no more follow");
    for (let i = 0; i < 1_024; i++) {
      assertStringIncludes(notices[i].msg, `Logger "${name(i)}" is not listed`);
      assertEquals([notices[i].level, notices[i].worker], ["WARN", "many-loggers"]);
    }
    assertStringIncludes(notices[1_024].msg, "More than 1024 loggers are not listed");
    assertStringIncludes(notices[1_024].msg, "no further notices are written");
    const records = lines.filter((line) => line.logger !== "workerlog");
    assertEquals(assertCompleteAndOrdered(records).get("many-loggers"), LOGGERS);
    assertEquals(records.length, LOGGERS);
    records.forEach((line) => assertEquals(line.logger, name(line.seq)));

    // The cap is the listener's: another sender's new unlisted logger gets no notice.
    const other = await connect(path);
    await other.write(hello("another"));
    assertEquals((await nextFrame(other)).type, WELCOME);
    await writeAll(
      other,
      concatFrames([encoder.unlisted("one.more", "INFO"), encoder.numbers(FLUSH, 2)]),
    );
    await framesUntilFlushed(other, 2);
    assertEquals((await readJsonLines(file)).length, lines.length, "no notice for one.more");
    conn.close();
    other.close();
  } finally {
    await listener.stop();
  }
});

Deno.test("listen: a socket path in a directory others can enter is refused, saying how to fix it", async () => {
  await using dir = await tempDir();
  const open = dir.file("open");
  await Deno.mkdir(open);
  await Deno.chmod(open, 0o755);
  await using listener = new QueueListener([]).start();
  const error = await assertRejects(
    () => listener.listen({ path: `${open}/log.sock`, token: TOKEN }),
    InvalidOptionError,
    "has mode 755: chmod 700 it, or leave out path to get a fresh one",
  );
  assertEquals(error.option, "path");
  assertEquals([...Deno.readDirSync(open)], [], "no socket was made");
  // A directory it makes itself is 0700.
  const made = dir.file("made");
  await listener.listen({ path: `${made}/log.sock`, token: TOKEN });
  assertEquals((await Deno.stat(made)).mode! & 0o777, 0o700);
  // The directory checked is the socket's own, for any path listen() takes.
  assertEquals(
    ["log.sock", "/log.sock", "run/log.sock", "/a/b/log.sock"].map(directoryOf),
    [".", "/", "run", "/a/b"],
  );
});

Deno.test("bad peers: a peer refused while it floods hellos is counted once, answered once, closed", async () => {
  await using dir = await tempDir();
  const { listener, path } = await listening(dir.file("out.log"));
  try {
    // 1,000 hellos with a wrong token at once: the first is refused, the
    // rest are never read, let alone refused and answered again.
    const conn = await connect(path);
    const wrong = hello("intruder", "not-the-right-token-at-all");
    await writeAll(conn, concatFrames(Array.from({ length: 1_000 }, () => wrong))).catch(() => {});
    const answers = await framesUntilClosed(conn);
    assertEquals(answers.map((frame) => frame.type), [REFUSED]);
    const { refusedBy, refused } = listener.stats().peers!;
    assertEquals([refusedBy.token, refused], [1, 1]);
  } finally {
    await listener.stop();
  }
});

Deno.test("bad peers: a sender that stops reading is closed at the last-write deadline, before stop() resolves", async () => {
  await using listener = new QueueListener([]).start();
  const { address } = await listener.listen({ token: TOKEN });
  const conn = await connect(address.slice("unix:".length));
  try {
    // 20,000 FLUSHes: 340 KB of answers, under the 1 MiB that closes a peer
    // as not reading, over what the socket holds; none is read.
    await writeAll(
      conn,
      concatFrames([
        hello("stops-reading"),
        ...Array.from({ length: 20_000 }, (_, i) => encoder.numbers(FLUSH, i)),
      ]),
    );
    await waitFor("the sender to be connected", () => listener.stats().peers!.connected === 1);
    await listener.stop();
    assertEquals(listener.stats().peers!.connected, 0, "its socket closed, its last ack unwritten");
  } finally {
    conn.close();
  }
});

Deno.test("restart: resume takes a reused name's last line, not its highest seq", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  // "p" wrote seq 0..4, then a later process under the same name 0..2, and
  // "q" 0..1 between them.
  const line = (worker: string, seq: number) => JSON.stringify({ worker, seq, msg: "m" });
  const lines = [0, 1, 2, 3, 4].map((seq) => line("p", seq));
  lines.push(line("q", 0), line("q", 1), ...[0, 1, 2].map((seq) => line("p", seq)));
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  assertEquals([...await readResumePoints(file)], [["p", 3], ["q", 2]]);
});

Deno.test("listen: a resume that is no Map or plain object is refused before the socket is bound", async () => {
  await using listener = new QueueListener([]).start();
  const port = freePort();
  const notAwaited = Promise.resolve(new Map([["p", 5]]));
  const bad = [notAwaited, new Map([["p", 5]]).entries(), [["p", 5]], 42, "p", null];
  for (const resume of bad) {
    const error = await assertRejects(
      () => listener.listen({ transport: "tcp", port, token: TOKEN, resume: resume as never }),
      InvalidOptionError,
      "a Map or a plain object",
    );
    assertEquals(error.option, "resume", error.message);
    if (resume === notAwaited) assertStringIncludes(error.message, "await readResumePoints(");
  }
  const points = Object.assign(Object.create(null), { p: 5 });
  const { address } = await listener.listen({
    transport: "tcp",
    port,
    token: TOKEN,
    resume: points,
  });
  assertEquals(address, `tcp:127.0.0.1:${port}`);
});

Deno.test('bad peers: a line batch with a "\\n" inside a line is refused as malformed, unwritten', async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  try {
    const conn = await connect(path);
    await conn.write(hello("forger"));
    const text = `${JSON.stringify({ worker: "victim", seq: 9, msg: "forged" })}\nmine\n`;
    await writeAll(
      conn,
      encoder.batch({
        kind: LINES,
        seq: 0,
        levels: new Uint8Array([20]),
        text,
        ends: new Uint32Array([text.length - 1]),
        size: text.length,
        minLevel: 20,
      }),
    );
    assertEquals((await framesUntilClosed(conn)).map((frame) => frame.type), [WELCOME]);
    assertEquals(listener.stats().peers!.refusedBy.malformed, 1);
  } finally {
    await listener.stop();
  }
  assertEquals(await readJsonLines(file), [], "nothing of the batch was written");
});

Deno.test("bad peers: a dropped count of 2^31 is malformed, and the total stops at 2^31 - 1", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  const MAX = 2 ** 31 - 1;
  const dropped = () => listener.stats().senders.find((s) => s.name === "dropper")?.dropped;
  try {
    const conn = await connect(path);
    await writeAll(
      conn,
      concatFrames([hello("dropper"), encoder.numbers(DROPPED, MAX), encoder.numbers(DROPPED, 5)]),
    );
    await waitFor("both counts added", () => dropped() !== undefined && dropped() !== 0);
    assertEquals(dropped(), MAX);
    await writeAll(conn, encoder.numbers(DROPPED, 2 ** 31));
    assertEquals((await framesUntilClosed(conn)).map((frame) => frame.type), [WELCOME]);
    assertEquals(listener.stats().peers!.refusedBy.malformed, 1);
    assertEquals(dropped(), MAX);
  } finally {
    await listener.stop();
  }
  // The notice gives a process's advice: its own buffer dropped them.
  const [notice] = (await readJsonLines(file)).filter((line) => line.logger === "workerlog");
  assertMatch(notice.msg, /^dropper dropped \d+ records: its buffer .* Raise maxBufferBytes/);
});
