// Nothing vanishes silently: loggers nobody listed, the connect message of a
// hand-made worker, and the formatter chosen for preformat. And (below) the
// Worker's own channel belongs to the application: what a spawned worker
// posts reaches onMessage, the main thread can post to it, and logging and
// the join are never disturbed.
import { assertEquals, assertStringIncludes } from "@std/assert";
import { FileHandler } from "@std/log";
import { BatchFileHandler, QueueListener, spawn } from "@workerlog/workerlog";
import { fixture, jsonFile, readJsonLines, readLines, tempDir } from "./_helpers.ts";

Deno.test("routing: a logger nobody listed reaches the listener, with one notice per name", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("unlisted_worker.ts"), { count: 2, handlers: [jsonFile(file, "DEBUG")] });
  const lines = await readJsonLines(file);
  const records = lines.filter((line) => line.logger !== "workerlog");
  assertEquals(
    records.map((line) => `${line.worker} ${line.logger} ${line.level} ${line.msg}`).sort(),
    [
      "worker-0 default INFO default",
      "worker-0 early INFO early at load",
      "worker-0 early INFO early in run",
      "worker-0 late DEBUG late debug",
      "worker-0 late WARN late in run",
      "worker-1 default INFO default",
      "worker-1 early INFO early at load",
      "worker-1 early INFO early in run",
      "worker-1 late DEBUG late debug",
      "worker-1 late WARN late in run",
    ],
  );
  const notices = lines.filter((line) => line.logger === "workerlog");
  assertEquals(notices.length, 2, "one notice per logger name, not per worker");
  assertEquals(notices.every((line) => line.level === "WARN"), true);
  assertEquals(
    notices.map((line) => /Logger "(\w+)" is not listed/.exec(line.msg)?.[1]).sort(),
    ["early", "late"],
  );
});

Deno.test("routing: routeUnlistedLoggers: false keeps the strict behaviour", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("unlisted_worker.ts"), {
    count: 1,
    handlers: [jsonFile(file, "DEBUG")],
    routeUnlistedLoggers: false,
  });
  const lines = await readJsonLines(file);
  assertEquals(lines.map((line) => `${line.logger} ${line.msg}`), ["default default"]);
});

Deno.test("routing: a hand-made worker's onmessage never sees the connect message", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await using listener = new QueueListener([jsonFile(file)]).start();
  const worker = new Worker(fixture("onmessage_first_worker.ts"), { type: "module" });
  try {
    listener.attach(worker);
    const messages: unknown[] = [];
    const next = () => new Promise((resolve) => worker.onmessage = (e) => resolve(e.data));
    messages.push(await next());
    worker.postMessage("app message");
    worker.postMessage("report");
    messages.push(await next());
    assertEquals(messages, ["ready", { seen: ["app message"] }]);
  } finally {
    worker.terminate();
  }
  await listener.stop();
  assertEquals((await readJsonLines(file)).map((line) => line.msg), ["set up"]);
});

Deno.test("routing: with preformat, the module's formatter formats every line, those logged while it loads too", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  await spawn(fixture("formatter_worker.ts"), {
    count: 2,
    handlers: [new BatchFileHandler("INFO", { filename: file })],
    preformat: true,
  });
  assertEquals((await readLines(file)).sort(), [
    "CUSTOM INFO while loading",
    "CUSTOM INFO while loading",
    "CUSTOM INFO while running",
    "CUSTOM INFO while running",
  ]);
});

Deno.test("routing: the listener's guard on destroy() is gone after stop()", async () => {
  await using dir = await tempDir();
  const handler = new FileHandler("INFO", { filename: dir.file("out.log") });
  const before = Object.getOwnPropertyDescriptor(handler, "destroy");
  const listener = new QueueListener([handler]).start();
  assertEquals(typeof Object.getOwnPropertyDescriptor(handler, "destroy")?.value, "function");
  await listener.stop();
  assertEquals(Object.getOwnPropertyDescriptor(handler, "destroy"), before);
  assertEquals(handler.destroy, FileHandler.prototype.destroy);
});

Deno.test("messages: what workers post reaches onMessage, even if it looks like an internal message", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const received: [unknown, number][] = [];
  const results = await spawn(fixture("messaging_worker.ts"), {
    count: 2,
    args: { wait: false },
    handlers: [jsonFile(file)],
    onMessage: (data, index) => received.push([data, index]),
  });
  assertEquals(results, ["none", "none"]);
  const sorted = received.map(([data, index]) => `${index} ${JSON.stringify(data)}`).sort();
  assertEquals(sorted, [
    `0 "progress 50% from 0"`,
    `0 {"kind":"failed","error":"an app message that looks internal"}`,
    `1 "progress 50% from 1"`,
    `1 {"kind":"failed","error":"an app message that looks internal"}`,
  ]);
  assertEquals((await readJsonLines(file)).length, 4);
});

Deno.test("messages: without onMessage they are ignored, with one warning per run", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...data: unknown[]) => warnings.push(data.join(" "));
  try {
    const results = await spawn(fixture("messaging_worker.ts"), {
      count: 3,
      args: { wait: false },
      handlers: [jsonFile(file)],
    });
    assertEquals(results, ["none", "none", "none"]);
  } finally {
    console.warn = warn;
  }
  assertEquals(warnings.length, 1, warnings.join("\n"));
  assertStringIncludes(warnings[0], "onMessage");
  assertEquals((await readJsonLines(file)).length, 6);
});

Deno.test("messages: the main thread posts to a running worker through the run", async () => {
  await using dir = await tempDir();
  const file = dir.file("out.log");
  const received: string[] = [];
  const run = spawn<string>(fixture("messaging_worker.ts"), {
    count: 2,
    args: { wait: true },
    handlers: [jsonFile(file)],
    onMessage: (data) => received.push(String(data)),
  });
  // Posted at once, before the workers' modules have loaded: held until then.
  run.postMessage(0, "hello zero");
  run.postMessage(1, "hello one");
  assertEquals(await run, ["hello zero", "hello one"]);
  assertEquals(received.filter((text) => text.startsWith("got ")).sort(), [
    "got hello one",
    "got hello zero",
  ]);
  const done = (await readJsonLines(file)).filter((line) => line.msg.startsWith("done"));
  assertEquals(done.map((line) => line.msg).sort(), [
    "done, reply hello one",
    "done, reply hello zero",
  ]);
});
