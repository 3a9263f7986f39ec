// The documentation is part of the product: every public symbol has JSDoc
// with an example, and the README's examples run as written.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
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

/** Runs README code as a user would, in a new folder. */
async function runInNewFolder(files: Record<string, string>) {
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
  await Deno.writeTextFile(dir.file("import_map.json"), JSON.stringify({ imports }));
  for (const [name, code] of Object.entries(files)) await Deno.writeTextFile(dir.file(name), code);
  const result = await deno(
    ["run", "--allow-read", "--allow-write", "--import-map", "import_map.json", "main.ts"],
    new URL(`file://${dir.path}/`),
  );
  assertEquals(result.code, 0, result.err);
  return { out: result.out, lines: await readLines(dir.file("app.log")) };
}

Deno.test("docs: README's quick start runs as written", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const quickStart = readme.slice(readme.indexOf("## Quick start"));
  const { out, lines } = await runInNewFolder({
    "main.ts": codeAfter(quickStart, "`main.ts`:"),
    "worker.ts": codeAfter(quickStart, "`worker.ts`:"),
  });
  assertStringIncludes(out, `"worker-0 done"`);
  assertEquals(lines.length, 800);
  assertEquals(lines.filter((line) => line.includes(" DEBUG [worker-2] db: query ")).length, 100);
});

Deno.test("docs: README's hand-made worker example runs as written", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const section = readme.slice(readme.indexOf("### Workers you create yourself"));
  const { lines } = await runInNewFolder({
    "main.ts": codeAfter(section, "// main.ts"),
    "worker.ts": codeAfter(section, "// worker.ts"),
  });
  assertEquals(lines, ["INFO into the main thread's app.log"]);
});
