// `deno doc --lint` for the offline setup.
//
// With the import map, @std/log resolves to local stand-in files, so the doc
// linter takes its types for private types of this package and reports every
// public signature that mentions one (private-type-ref). Users resolve
// @std/log from JSR, where those types are external and fine. This runs the
// linter and drops exactly those reports; every other finding still fails.
//
//   deno run --allow-read --allow-run tests/std_offline/doc_lint.ts mod.ts worker.ts

const importMap = new URL("./import_map.json", import.meta.url).pathname;
const standIn = new URL("./log/mod.ts", import.meta.url).pathname;

const stdNames = await exportedNames(standIn);
const { success, stdout, stderr } = await deno(
  "doc",
  "--lint",
  "--import-map",
  importMap,
  ...Deno.args,
);
const report = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
const findings = report.split(/\n(?=error\[)/).filter((block) => block.startsWith("error["));
const real = findings.filter((block) => {
  const stdRef = /^error\[private-type-ref\]: public type .* references private type '(\w+)'/
    .exec(block);
  return !(stdRef && stdNames.has(stdRef[1]));
});

if (real.length > 0 || (!success && findings.length === 0)) {
  console.error(real.length > 0 ? real.join("\n") : report);
  console.error(`doc lint: ${real.length} finding(s) beyond references to @std/log types`);
  Deno.exit(1);
}
console.log(
  `doc lint: clean (${findings.length - real.length} references to @std/log types allowed)`,
);

async function exportedNames(module: string): Promise<Set<string>> {
  const { stdout } = await deno("doc", "--json", module);
  const doc = JSON.parse(new TextDecoder().decode(stdout));
  const names = new Set<string>();
  for (const node of Object.values(doc.nodes) as { symbols: { name: string }[] }[]) {
    for (const symbol of node.symbols) names.add(symbol.name);
  }
  return names;
}

function deno(...args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
}
