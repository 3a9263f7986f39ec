// The documentation is part of the product: every public symbol has JSDoc
// with an example, every JSDoc example runs, and the README's examples run
// as written.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import {
  assertCompleteAndOrdered,
  freePort,
  readJsonLines,
  readLines,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const root = new URL("../", import.meta.url);

/** Starts deno with `args`, without colours, its output piped. */
function spawnDeno(args: string[], cwd: string | URL, env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs deno to its end; one still running after `timeoutMs` is killed, and `err` says so. */
async function deno(args: string[], cwd: string | URL = root, env: Record<string, string> = {}) {
  const timeoutMs = 30_000;
  const process = spawnDeno(args, cwd, env);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    process.kill("SIGKILL");
  }, timeoutMs);
  try {
    const output = await process.output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    const err = text(output.stderr) +
      (killed ? `\n(deno ${args.join(" ")} was still running after ${timeoutMs} ms)` : "");
    return { ...output, out: text(output.stdout), err };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("docs: every public symbol has JSDoc with an @example", async () => {
  const { out } = await deno([
    "doc",
    "--json",
    "mod.ts",
    "worker.ts",
    "process.ts",
  ]);
  const doc = JSON.parse(out) as {
    nodes: Record<string, {
      symbols: {
        name: string;
        declarations: { kind: string; jsDoc?: { doc?: string; tags?: { kind: string }[] } }[];
      }[];
    }>;
  };
  const missing: string[] = [];
  let checked = 0;
  for (const [module, { symbols }] of Object.entries(doc.nodes)) {
    for (const symbol of symbols) {
      checked++;
      // A re-export ("reference") is documented where it is declared, which
      // mod.ts exports too.
      const documented = symbol.declarations.some((declaration) =>
        declaration.kind === "reference" ||
        declaration.jsDoc?.doc && declaration.jsDoc.tags?.some((tag) => tag.kind === "example")
      );
      if (!documented) missing.push(`${module.replace(root.href, "")}: ${symbol.name}`);
    }
  }
  assert(checked > 20, `only ${checked} symbols found`);
  assertEquals(missing, [], "public symbols without JSDoc and an @example");
});

/**
 * The fenced code block (```ts, or the `language` given) that follows `label`
 * in `markdown`; `label` may also be the block's own start.
 */
function codeAfter(markdown: string, label: string, language = "ts"): string {
  const fence = "```" + language + "\n";
  const at = markdown.indexOf(label);
  assert(at >= 0, `README has no ${label}`);
  const opening = markdown.lastIndexOf(fence, at);
  const inside = opening >= 0 && opening + fence.length === at;
  const from = markdown.indexOf(fence, inside ? opening : at);
  assert(from >= 0, `no ${language} code block after ${label}`);
  const to = markdown.indexOf("```", from + fence.length);
  assert(to >= 0, `the ${language} code block after ${label} does not end`);
  return markdown.slice(from + fence.length, to);
}

/** `text` with each of `replacements` made, failing if one is not there to replace. */
function adapt(text: string, replacements: [string, string][]): string {
  for (const [from, to] of replacements) {
    assert(text.includes(from), `README snippet no longer has ${from}:\n${text}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/**
 * A README command line (`NAME=value deno run ... file.ts`, lines joined by
 * `\`, or in a `// file.ts: deno run ...` comment) as its environment and
 * the arguments after `deno`.
 */
function parseCommand(text: string): { env: Record<string, string>; args: string[] } {
  const joined = text.replace(/\\\n(\/\/)?/g, " ").replace(/^\/\/ [\w.]+: /, "").trim();
  assert(!/["'$`;|&<>]/.test(joined), `not a plain command line: ${joined}`);
  const words = joined.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0])) {
    const [name, value] = words.shift()!.split("=");
    env[name] = value;
  }
  assertEquals(words.shift(), "deno", `not a deno command line: ${joined}`);
  return { env, args: words };
}

/** The command line in the comment a README snippet starts with. */
function commandInComment(code: string): { env: Record<string, string>; args: string[] } {
  const lines = code.split("\n");
  let end = 1;
  while (lines[end - 1].endsWith("\\") && lines[end]?.startsWith("//")) end++;
  const comment = lines.slice(0, end).join("\n");
  assert(
    /^\/\/ [\w.]+: deno /.test(comment),
    `the snippet does not start with its command:\n${code}`,
  );
  return parseCommand(comment);
}

/**
 * A new folder as a user's project has: a deno.json that resolves @std as
 * the project does (jsr:, through JSR_URL when set) and this package from the
 * working tree (child processes find it too), and `files`.
 */
async function newFolder(files: Record<string, string>) {
  const dir = await tempDir();
  const project = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).imports as Record<
    string,
    string
  >;
  const imports: Record<string, string> = {
    "@workerlog/workerlog": new URL("mod.ts", root).href,
    "@workerlog/workerlog/worker": new URL("worker.ts", root).href,
    "@workerlog/workerlog/process": new URL("process.ts", root).href,
  };
  for (const [specifier, target] of Object.entries(project)) {
    if (!specifier.startsWith("@std/")) continue;
    imports[specifier] = target;
    imports[`${specifier}/`] = target.replace(/^jsr:/, "jsr:/") + "/";
  }
  await Deno.writeTextFile(dir.file("deno.json"), JSON.stringify({ imports }));
  for (const [name, code] of Object.entries(files)) await Deno.writeTextFile(dir.file(name), code);
  return dir;
}

/** Runs README code as a user would, in a new folder, `runs` times. */
async function runInNewFolder(files: Record<string, string>, runs = 1, log = "app.log") {
  await using dir = await newFolder(files);
  let out = "";
  for (let run = 0; run < runs; run++) {
    const result = await deno(
      [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net",
        "--allow-run",
        "main.ts",
      ],
      new URL(`file://${dir.path}/`),
    );
    assertEquals(result.code, 0, result.err);
    out = result.out;
  }
  return { out, lines: await readLines(dir.file(log)) };
}

async function readme(section: string): Promise<string> {
  const text = await Deno.readTextFile(new URL("README.md", root));
  const at = text.indexOf(section);
  assert(at >= 0, `README has no section ${section}`);
  return text.slice(at);
}

Deno.test("docs: README's quick start runs as written, and its 800 lines hold on a second run", async () => {
  const quickStart = await readme("## Quick start");
  const { out, lines } = await runInNewFolder({
    "main.ts": codeAfter(quickStart, "`main.ts`:"),
    "worker.ts": codeAfter(quickStart, "`worker.ts`:"),
  }, 2);
  assertStringIncludes(out, `"worker-0 done"`);
  assertEquals(lines.length, 800);
  assertEquals(lines.filter((line) => line.includes(" DEBUG [worker-2] db: query ")).length, 100);
});

Deno.test("docs: README's hand-made worker example runs as written", async () => {
  const section = await readme("### Workers you create yourself");
  const { lines } = await runInNewFolder({
    "main.ts": codeAfter(section, "// main.ts"),
    "worker.ts": codeAfter(section, "// worker.ts"),
  });
  assertEquals(lines.length, 1);
  assertMatch(
    lines[0],
    /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[worker-0\] default: into the main thread's app\.log$/,
  );
});

Deno.test("docs: README's preformat example runs as written with the quick start's worker", async () => {
  const quickStart = await readme("## Quick start");
  const section = await readme("## Formatting in the workers");
  const { lines } = await runInNewFolder(
    {
      "main.ts": codeAfter(section, "```ts\nimport { BatchFileHandler"),
      "worker.ts": codeAfter(quickStart, "`worker.ts`:"),
    },
    1,
    "logs/app.log",
  );
  assertEquals(lines.length, 800);
  assertEquals(lines.filter((line) => line.includes(" DEBUG [worker-3] db: query ")).length, 100);
});

Deno.test("docs: README's writer-worker example runs as written with the quick start's worker", async () => {
  const quickStart = await readme("## Quick start");
  const section = await readme("## Keeping the main thread free");
  const { lines } = await runInNewFolder({
    "main.ts": codeAfter(section, "// main.ts", "ts ignore"),
    "log_handlers.ts": codeAfter(section, "// log_handlers.ts", "ts ignore"),
    "worker.ts": codeAfter(quickStart, "`worker.ts`:"),
  });
  // The handler takes INFO and up: each worker's 100 "job N done" lines,
  // and one notice that logger "db" is not listed.
  const jobs = lines.filter((line) => / INFO \[worker-\d\] default: job \d+ done$/.test(line));
  assertEquals(jobs.length, 400);
  assertEquals(
    lines.length - jobs.length,
    1,
    lines.filter((line) => !jobs.includes(line)).join("\n"),
  );
  assertStringIncludes(lines.find((line) => !jobs.includes(line))!, 'Logger "db" is not listed');
});

Deno.test("docs: README's many-processes example runs as written", async () => {
  const section = await readme("## Many processes");
  const { lines } = await runInNewFolder({
    "main.ts": codeAfter(section, "// main.ts"),
    "child.ts": codeAfter(section, "// child.ts"),
  });
  const records = lines.map((line) => JSON.parse(line) as { worker: string; msg: string });
  assertEquals(
    records.map((record) => `${record.worker} ${record.msg}`).sort(),
    [0, 1, 2, 3].map((i) => `child-${i} from a child process`),
  );
});

/** A README program that runs until it is stopped: its output as it comes, its exit status. */
function startProgram(args: string[], cwd: string, env: Record<string, string>) {
  const process = spawnDeno(args, cwd, env);
  const output = { out: "", err: "" };
  const collect = async (stream: ReadableStream<Uint8Array>, into: "out" | "err") => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output[into] += text;
  };
  const reading = Promise.all([collect(process.stdout, "out"), collect(process.stderr, "err")]);
  let status: Deno.CommandStatus | undefined;
  process.status.then((ended) => status = ended);
  return {
    process,
    output,
    /** The first match of `pattern` in its stdout and stderr; fails if it exits first. */
    async waitForOutput(pattern: RegExp, what: string): Promise<RegExpExecArray> {
      const found: RegExpExecArray[] = [];
      await waitFor(what, () => {
        const match = pattern.exec(output.out + output.err);
        if (match) return found.push(match) > 0;
        if (status) throw new Error(`exited with ${status.code} before ${what}: ${output.err}`);
        return false;
      });
      return found[0];
    },
    /** `waiting`, failing with the program's output if it fails. */
    async explainFailure<T>(waiting: Promise<T>): Promise<T> {
      try {
        return await waiting;
      } catch (error) {
        throw new Error(`${error}\nits stdout: ${output.out}\nits stderr: ${output.err}`);
      }
    },
    async exited(what: string): Promise<Deno.CommandStatus> {
      await this.explainFailure(waitFor(`${what} to exit`, () => status !== undefined));
      await reading;
      return status!;
    },
    async [Symbol.asyncDispose]() {
      if (status === undefined) process.kill("SIGKILL");
      await process.status;
      await reading;
    },
  };
}

Deno.test("docs: README's processes-instead-of-workers example runs with its command line", async () => {
  const section = await readme("## Processes instead of workers");
  const command = parseCommand(codeAfter(section, "```sh\ndeno run", "sh"));
  await using dir = await newFolder({
    "main.ts": codeAfter(section, "// main.ts"),
    "worker.ts": codeAfter(section, "// worker.ts"),
  });
  const files = Array.from({ length: 10 }, (_, i) => `file-${i}.txt`);
  await Deno.mkdir(dir.file("data"));
  for (const name of files) await Deno.writeTextFile(dir.file(`data/${name}`), name);

  const result = await deno(command.args, dir.path, command.env);
  assertEquals(result.code, 0, result.err);
  assertEquals(result.out, "[ 3, 3, 2, 2 ]\n", "10 files, every 4th to each of 4 processes");
  const lines = await readJsonLines(dir.file("app.log"));
  assertEquals(
    [...assertCompleteAndOrdered(lines)].sort(),
    [["process-0", 3], ["process-1", 3], ["process-2", 2], ["process-3", 2]],
    "each process's lines, as many as its result says, its seq 0, 1, 2, ...",
  );
  assertEquals(
    lines.map((line) => `${line.level} ${line.logger}: ${line.msg}`).sort(),
    files.map((name) => `INFO default: indexing ${name}`),
    "one line per file",
  );
});

Deno.test("docs: README's TLS listener and sender run with its certificates and command lines", async () => {
  const section = await readme("### Between hosts: TLS");
  // The README's names and address, for this host: loopback only, any free port.
  const certificates = adapt(codeAfter(section, "```sh\n# once: a CA", "sh"), [
    ["logs.example.com", "localhost"],
    ["IP:10.0.0.5", "IP:127.0.0.1"],
  ]);
  const listenerCode = adapt(codeAfter(section, "// listener.ts"), [
    ['hostname: "0.0.0.0"', 'hostname: "127.0.0.1"'],
    ["port: 4560", "port: 0"],
  ]);
  await using dir = await newFolder({ "listener.ts": listenerCode });
  const openssl = await new Deno.Command("sh", {
    args: ["-e", "-c", certificates],
    cwd: dir.path,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(openssl.code, 0, new TextDecoder().decode(openssl.stderr));
  const env = { LOG_TOKEN: "the docs test's token" };

  await using listener = startProgram(commandInComment(listenerCode).args, dir.path, env);
  const [, port] = await listener.waitForOutput(
    /^listening at tls:127\.0\.0\.1:(\d+)$/m,
    "the listener's address on stdout",
  );
  const senderCode = adapt(codeAfter(section, "// sender.ts"), [
    ["logs.example.com:4560", `127.0.0.1:${port}`],
  ]);
  await Deno.writeTextFile(dir.file("sender.ts"), senderCode);
  const sender = await deno(commandInComment(senderCode).args, dir.path, env);
  assertEquals(sender.code, 0, `${sender.err}\nthe listener's stderr: ${listener.output.err}`);
  const expected = [{
    level: "INFO",
    worker: `importer@${Deno.hostname()}`,
    logger: "default",
    msg: "from another host",
    seq: 0,
  }];
  const written = async () =>
    (await readJsonLines(dir.file("app.log"))).map(({ level, worker, logger, msg, seq }) => ({
      level,
      worker,
      logger,
      msg,
      seq,
    }));
  assertEquals(await written(), expected, "the sender's flush() resolved: its line is written");

  listener.process.kill("SIGTERM");
  const status = await listener.exited("the listener after SIGTERM");
  assertEquals(status.code, 143, `SIGTERM drains and stops the listener: ${listener.output.err}`);
  assertEquals(await written(), expected);
});

Deno.test("docs: README's deno serve --parallel example runs with its command line; one SIGTERM ends it", async () => {
  const section = await readme("## `deno serve --parallel`");
  await using dir = await newFolder({});
  // The README's socket directory, in this test's folder; loopback only, a free port, 2 instances.
  const socketDir = dir.file("myapp-log");
  const port = freePort();
  const server = adapt(codeAfter(section, "// server.ts"), [["/tmp/myapp-log", socketDir]]);
  await Deno.writeTextFile(dir.file("server.ts"), server);
  const command = parseCommand(adapt(codeAfter(section, "```sh\nDENO_JOBS=", "sh"), [
    ["/tmp/myapp-log", socketDir],
    ["DENO_JOBS=4", "DENO_JOBS=2"],
    ["--port 8000", `--host 127.0.0.1 --port ${port}`],
  ]));

  await using serve = startProgram(command.args, dir.path, command.env);
  await serve.waitForOutput(
    /Listening on http:\/\/127\.0\.0\.1:\d+\/ with 2 threads/,
    "deno serve",
  );
  // Rounds of concurrent requests until both instances have answered one:
  // the README promises lines from every instance, and a SIGTERM that comes
  // before an instance serves is missed by it (with Deno 2.9.6, even for a
  // server without workerlog, `deno serve` then never ends). app.log is
  // written as the requests come.
  const urls: string[] = [];
  const instances = async () => {
    const text = await Deno.readTextFile(dir.file("app.log")).catch(() => "");
    const complete = text.slice(0, text.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
    return {
      lines: complete.length,
      names: new Set(complete.map((line) => JSON.parse(line).worker)),
    };
  };
  await serve.explainFailure(waitFor("both instances to answer a request and log it", async () => {
    const round = [0, 1, 2, 3].map((i) => `http://127.0.0.1:${port}/?request=${urls.length + i}`);
    urls.push(...round);
    await Promise.all(round.map(async (url) => {
      const response = await fetch(url, { headers: { connection: "close" } });
      assertEquals([response.status, await response.text()], [200, "hello\n"], url);
    }));
    await waitFor(
      `app.log to hold ${urls.length} lines`,
      async () => (await instances()).lines === urls.length,
    );
    return (await instances()).names.size === 2;
  }));
  serve.process.kill("SIGTERM");
  const status = await serve.exited("deno serve after one SIGTERM");
  assertEquals(status.code, 0, `one SIGTERM ends deno serve with 0: ${serve.output.err}`);

  const lines = await readJsonLines(dir.file("app.log"));
  assertCompleteAndOrdered(lines);
  const instance = new RegExp(`^process-${serve.process.pid}-[0-9a-f]{8}$`);
  for (const line of lines) assertMatch(line.worker, instance, "each line names its instance");
  assertEquals(new Set(lines.map((line) => line.worker)).size, 2, "lines from both instances");
  const byRequest = (line: { args: unknown }) =>
    Number(new URL((line.args as { url: string }[])[0].url).searchParams.get("request"));
  assertEquals(
    lines.map(({ level, msg, args }) => ({ level, msg, args })).sort((a, b) =>
      byRequest(a) - byRequest(b)
    ),
    urls.map((url) => ({ level: "INFO", msg: "request", args: [{ method: "GET", url }] })),
    "one line per request",
  );
  // workerlog's files, as the README lists them: the socket is gone once the writer stopped.
  assertEquals((await Deno.stat(socketDir)).mode! & 0o777, 0o700);
  assertEquals((await Deno.stat(`${socketDir}/log.sock.token`)).mode! & 0o777, 0o600);
  assertEquals(
    (await Array.fromAsync(Deno.readDir(socketDir))).map((entry) => entry.name).sort(),
    ["log.sock.lock", "log.sock.token"],
  );
});

Deno.test("docs: the doc-tag check finds a JSDoc line that starts with @std/log", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    dir.file("bad.ts"),
    "/**\n * Writes to ordinary\n * @std/log handlers.\n */\nexport const x = 1;\n",
  );
  const result = await deno([
    "run",
    "--allow-run",
    "--allow-env",
    "--allow-read",
    new URL("tools/check_doc_tags.ts", root).pathname,
    dir.file("bad.ts"),
  ]);
  assertEquals(result.code, 1, result.out);
  assertStringIncludes(result.err, 'x: a JSDoc line starts with "@std/log handlers."');
});

// Every JSDoc example that is not marked `ignore` runs as written, as
// `deno test --doc` would run it, but all in this one isolate: that command
// starts an isolate per example (about 0.4 s of CPU each, a fifth of the
// suite's time), while here an example costs what its own code costs.
// `deno task check` type-checks the same examples (`deno check --doc`).
/** The folders and files whose JSDoc is published. */
const SOURCES = [
  "mod.ts",
  "worker.ts",
  "process.ts",
  "errors.ts",
  "common/",
  "formatters/",
  "sender/",
  "listener/",
  "sinks/",
  "spawn/",
  "election/",
];

/** One fenced example from a JSDoc comment. */
interface Example {
  /** Where it is, e.g. "errors.ts:12". */
  where: string;
  code: string;
}

async function* sourceFiles(): AsyncGenerator<string> {
  for (const source of SOURCES) {
    if (!source.endsWith("/")) {
      yield source;
      continue;
    }
    for await (const entry of Deno.readDir(new URL(source, root))) {
      if (entry.isFile && entry.name.endsWith(".ts")) yield source + entry.name;
    }
  }
}

/** The ```ts blocks inside the JSDoc comments of `text`, without the " * " margins. */
function examplesIn(file: string, text: string): Example[] {
  const examples: Example[] = [];
  const lines = text.split("\n");
  let open: { line: number; body: string[]; runs: boolean } | undefined;
  lines.forEach((line, i) => {
    const inComment = /^\s*\*( |$)/.exec(line);
    if (!inComment) return;
    const content = line.slice(inComment[0].length);
    const fence = /^```(\S*)(.*)$/.exec(content.trim());
    if (fence && open === undefined) {
      const runs = ["ts", "typescript", "js"].includes(fence[1]) && !/\bignore\b/.test(fence[2]);
      open = { line: i + 1, body: [], runs };
    } else if (fence && open !== undefined) {
      if (open.runs) examples.push({ where: `${file}:${open.line}`, code: open.body.join("\n") });
      open = undefined;
    } else if (open !== undefined) {
      open.body.push(content);
    }
  });
  assertEquals(open, undefined, `${file}: a code fence in JSDoc is never closed`);
  return examples;
}

async function allExamples(): Promise<Example[]> {
  const examples: Example[] = [];
  for await (const file of sourceFiles()) {
    examples.push(...examplesIn(file, await Deno.readTextFile(new URL(file, root))));
  }
  return examples;
}

Deno.test("docs: every JSDoc example that is not marked ignore runs as written", async (t) => {
  const examples = await allExamples();
  assert(examples.length > 30, `only ${examples.length} examples found`);
  // Inside the repository, so that "@workerlog/workerlog" and "@std/log"
  // resolve as they do for the examples' readers.
  const dir = await Deno.makeTempDir({ dir: new URL("tests/", root).pathname, prefix: ".doc_" });
  try {
    for (const [i, example] of examples.entries()) {
      await t.step(example.where, async () => {
        const path = `${dir}/example_${i}.ts`;
        await Deno.writeTextFile(path, example.code);
        await import(`file://${path}`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
