// Deploys: a program that uses spawn() is cached with `deno cache` and then
// runs with `deno run --cached-only`, from a fresh DENO_DIR. spawn.ts imports
// the workers' bootstrap statically so that it is in the module graph that
// `deno cache` (and `deno compile`) sees.
import { assert, assertEquals, assertMatch } from "@std/assert";
import { assertCompleteAndOrdered, fixture, readJsonLines, tempDir } from "./_helpers.ts";

const REPO = new URL("..", import.meta.url).pathname;
const MAIN = fixture("deploy_main.ts").pathname;

/** Runs deno with `args` from the repository (so its deno.json applies) and DENO_DIR `denoDir`. */
async function deno(denoDir: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    env: { DENO_DIR: denoDir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("deploy: a program cached with deno cache runs with --cached-only", async () => {
  await using dir = await tempDir();
  const [denoDir, file] = [dir.file("deno_dir"), dir.file("out.log")];
  const cached = await deno(denoDir, ["cache", MAIN]);
  assertEquals(cached.code, 0, cached.stderr);
  const run = await deno(denoDir, [
    "run",
    "--cached-only",
    "--allow-read",
    "--allow-write",
    MAIN,
    file,
  ]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.stdout.trim(), "[1000,1000]");
  const lines = await readJsonLines(file);
  assertEquals(lines.length, 2_000);
  assertEquals(
    Object.fromEntries(assertCompleteAndOrdered(lines)),
    { "worker-0": 1_000, "worker-1": 1_000 },
  );
});

Deno.test("deploy: --cached-only without the cache fails, naming what is missing", async () => {
  // What makes the test above mean something: --cached-only does refuse to
  // fetch.
  await using dir = await tempDir();
  const run = await deno(dir.file("deno_dir"), [
    "run",
    "--cached-only",
    "--allow-read",
    "--allow-write",
    MAIN,
    dir.file("out.log"),
  ]);
  assert(run.code !== 0, "ran without a cache");
  assertMatch(run.stderr, /@std\/log|not found in cache|cached-only/i);
});
