// The listener hands a plain FileHandler a batch's lines in one log() call.
// The file must come out byte for byte as when the handler takes the records
// one by one: the same level checks, the same formatting, the same bytes.
import { assert, assertEquals } from "@std/assert";
import { FileHandler, Logger, type LogRecord } from "@std/log";
import { QueueHandler, QueueListener } from "@workerlog/workerlog";
import { tempDir } from "./_helpers.ts";

const formatter = (record: LogRecord) =>
  `${record.levelName} ${record.loggerName} ${record.msg} ${JSON.stringify(record.args)}`;

/** A FileHandler that takes records one by one: its own log() opts out of the fast path. */
class OneByOne extends FileHandler {
  override log(msg: string): void {
    super.log(msg);
  }
}

Deno.test("fast path: a plain FileHandler writes the same bytes as one that takes records one by one", async () => {
  await using dir = await tempDir();
  const fast = new FileHandler("WARN", { filename: dir.file("fast.log"), formatter });
  const slow = new OneByOne("WARN", { filename: dir.file("slow.log"), formatter });
  const listener = new QueueListener([fast, slow]).start();
  let logCalls = 0;
  const log = fast.log.bind(fast);
  fast.log = (msg: string) => {
    logCalls++;
    log(msg);
  };
  const handler = new QueueHandler("NOTSET", { connection: listener.connect({ name: "job" }) });
  const logger = new Logger("app", "DEBUG", { handlers: [handler] });
  const levels = ["debug", "info", "warn", "error", "critical"] as const;
  let records = 0;
  for (let i = 0; i < 5_000; i++) {
    const level = levels[i % levels.length];
    const text = i % 997 === 0 ? "é€😀".repeat(2_000) : `record ${i}`; // some pass 4 KiB
    logger[level](`${text} ${i}`, { i, odd: i % 2 === 1 });
    if (level === "warn" || level === "error" || level === "critical") records++;
    if (i % 700 === 0) await handler.flush();
  }
  await handler.flush();
  await listener.stop();
  const fastBytes = await Deno.readFile(dir.file("fast.log"));
  const slowBytes = await Deno.readFile(dir.file("slow.log"));
  assertEquals(fastBytes.length, slowBytes.length);
  assertEquals(fastBytes, slowBytes);
  const lines = new TextDecoder().decode(fastBytes).split("\n");
  assertEquals(lines.pop(), "");
  assertEquals(lines.length, records);
  assert(lines.every((line) => /^(WARN|ERROR|CRITICAL) app /.test(line)));
  assert(logCalls < records / 20, `${logCalls} log() calls for ${records} records: not batched`);
});

Deno.test("fast path: preformatted lines reach a plain FileHandler whole and in order", async () => {
  await using dir = await tempDir();
  const fast = new FileHandler("INFO", { filename: dir.file("fast.log") });
  const slow = new OneByOne("INFO", { filename: dir.file("slow.log") });
  const listener = new QueueListener([fast, slow]).start();
  const handler = new QueueHandler("NOTSET", {
    connection: listener.connect({ name: "job" }),
    preformat: true,
    formatter,
  });
  const logger = new Logger("app", "INFO", { handlers: [handler] });
  for (let i = 0; i < 3_000; i++) logger.info(`line ${i}`);
  await handler.flush();
  await listener.stop();
  const fastText = await Deno.readTextFile(dir.file("fast.log"));
  assertEquals(fastText, await Deno.readTextFile(dir.file("slow.log")));
  const lines = fastText.split("\n");
  assertEquals(lines.pop(), "");
  assertEquals(lines, Array.from({ length: 3_000 }, (_, i) => `INFO app line ${i} []`));
});
