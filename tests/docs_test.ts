// The documentation is part of the product: every public symbol has JSDoc
// with an example, and the README's examples run as written.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { readLines, tempDir } from "./_helpers.ts";

const root = new URL("../", import.meta.url);

async function deno(args: string[], cwd = root) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { ...output, out: text(output.stdout), err: text(output.stderr) };
}

Deno.test("docs: every public symbol has JSDoc with an @example", async () => {
  const { out } = await deno([
    "doc",
    "--json",
    "mod.ts",
    "worker.ts",
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

/** The fenced code block that follows `label` in `markdown`. */
function codeAfter(markdown: string, label: string): string {
  const at = markdown.indexOf(label);
  assert(at >= 0, `README has no ${label}`);
  const opening = markdown.lastIndexOf("```ts\n", at);
  const inside = opening >= 0 && opening + 6 === at;
  const match = /```ts\n([\s\S]*?)```/.exec(markdown.slice(inside ? opening : at));
  assert(match, `no code block after ${label}`);
  return match[1];
}

/** Runs README code as a user would, in a new folder, `runs` times. */
async function runInNewFolder(files: Record<string, string>, runs = 1, log = "app.log") {
  await using dir = await tempDir();
  // The new folder resolves @std as the project does (jsr:, through JSR_URL
  // when set) and this package from the working tree.
  const project = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).imports as Record<
    string,
    string
  >;
  const imports: Record<string, string> = {
    "@workerlog/workerlog": new URL("mod.ts", root).href,
    "@workerlog/workerlog/worker": new URL("worker.ts", root).href,
  };
  for (const [specifier, target] of Object.entries(project)) {
    if (!specifier.startsWith("@std/")) continue;
    imports[specifier] = target;
    imports[`${specifier}/`] = target.replace(/^jsr:/, "jsr:/") + "/";
  }
  // A deno.json, as users have, so that child processes find it too.
  await Deno.writeTextFile(dir.file("deno.json"), JSON.stringify({ imports }));
  for (const [name, code] of Object.entries(files)) await Deno.writeTextFile(dir.file(name), code);
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
