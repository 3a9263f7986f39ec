// Every JSDoc example that is not marked `ignore` runs as written, as
// `deno test --doc` would run it, but all in this one isolate: that command
// starts an isolate per example (about 0.4 s of CPU each, a fifth of the
// suite's time), while here an example costs what its own code costs.
// `deno task check` type-checks the same examples (`deno check --doc`).
import { assert, assertEquals } from "@std/assert";

const root = new URL("../", import.meta.url);
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
