// The Worker's own channel belongs to the application: what a spawned
// worker posts reaches onMessage, the main thread can post to it, and
// logging and the join are never disturbed.
import { assertEquals, assertStringIncludes } from "@std/assert";
import { spawn } from "@workerlog/workerlog";
import { fixture, jsonFile, readJsonLines, tempDir } from "./_helpers.ts";

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
