// Peers that misbehave on the listener's socket are refused, closed and
// counted, and a well-behaved sender beside them loses nothing. Also: what a
// restarted listener does with what a sender resends.
import { assert, assertEquals } from "@std/assert";
import { FileHandler, Logger } from "@std/log";
import {
  jsonLinesFormatter,
  ProcessHandler,
  QueueListener,
  readResumePoints,
} from "@workerlog/workerlog";
import {
  ACK,
  decodeFrame,
  type Frame,
  FrameEncoder,
  FrameReader,
  newSession,
  PROTOCOL_VERSION,
  REFUSED,
  WELCOME,
} from "../common/_frames.ts";
import { BatchBuilder } from "../sender/_batch_builder.ts";
import { assertCompleteAndOrdered, readJsonLines, tempDir, waitFor } from "./_helpers.ts";

const TOKEN = "the-right-token-for-these-tests";
const encoder = new FrameEncoder();

/** A started, listening listener writing JSON Lines to `file`, with short deadlines. */
async function listening(file: string) {
  const listener = new QueueListener([
    new FileHandler("INFO", { filename: file, formatter: jsonLinesFormatter }),
  ]).start();
  const info = await listener.listen({
    token: TOKEN,
    helloTimeoutMs: 400,
    frameTimeoutMs: 400,
    maxPendingPeers: 8,
  });
  return { listener, path: info.address.slice("unix:".length), address: info.address };
}

function hello(name: string, token = TOKEN, version = PROTOCOL_VERSION, resuming = false) {
  return encoder.hello({ version, token, name, pid: 1, session: newSession(), resuming });
}

/** Reads frames until the peer closes; returns them (fails after 5 s). */
async function framesUntilClosed(conn: Deno.Conn): Promise<Frame[]> {
  const reader = new FrameReader();
  reader.helloOnly = false;
  const frames: Frame[] = [];
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(reader.space());
      } catch {
        throw new Error("the listener did not close the connection within 5 s");
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

Deno.test("bad peers: one byte at a time, and silence, run into the deadlines", async () => {
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
    const slowFrames = framesUntilClosed(slow);
    const good = goodSender(address, 5_000);
    assertEquals(await framesUntilClosed(silent), []);
    assertEquals(await slowFrames, []);
    await trickle;
    await good;
    const { refusedBy } = listener.stats().peers!;
    assertEquals([refusedBy.silent, refusedBy.slow], [1, 1]);
  } finally {
    await listener.stop();
  }
  await assertGoodComplete(file, 5_000);
});

Deno.test("bad peers: a sender that trickles a frame after its hello is cut off", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const { listener, path } = await listening(file);
  try {
    const conn = await connect(path);
    await conn.write(hello("slow-frame"));
    const frame = encoder.numbers(ACK, 0).slice(); // any frame: its first half only
    await conn.write(frame.subarray(0, 3));
    const answers = await framesUntilClosed(conn);
    assertEquals(answers.map((f) => f.type), [WELCOME]);
    assertEquals(listener.stats().peers?.refusedBy.slow, 1);
  } finally {
    await listener.stop();
  }
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
