/**
 * Fails when `deno doc --json` of the entry points has a JSDoc tag it could
 * not parse ("kind": "unsupported"), such as a line that starts with
 * "@std/log": JSR would show the rest of that comment cut off or misplaced.
 *
 * Usage: `deno run --allow-run --allow-env --allow-read tools/check_doc_tags.ts mod.ts worker.ts`
 *
 * @module
 */

interface Found {
  symbol: string;
  text: string;
}

/** Every unsupported tag under `node`, with the symbol it belongs to. */
export function unsupportedTags(node: unknown, symbol = "", found: Found[] = []): Found[] {
  if (Array.isArray(node)) {
    for (const item of node) unsupportedTags(item, symbol, found);
  } else if (typeof node === "object" && node !== null) {
    const record = node as Record<string, unknown>;
    const name = typeof record.name === "string" ? record.name : symbol;
    if (record.kind === "unsupported") {
      found.push({ symbol: name, text: String(record.value).split("\n")[0] });
    }
    for (const value of Object.values(record)) unsupportedTags(value, name, found);
  }
  return found;
}

if (import.meta.main) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...Deno.args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    console.error(new TextDecoder().decode(stderr));
    Deno.exit(code);
  }
  const found = unsupportedTags(JSON.parse(new TextDecoder().decode(stdout)));
  for (const { symbol, text } of found) {
    console.error(`${symbol}: a JSDoc line starts with "${text.slice(0, 60)}", read as a tag.`);
  }
  if (found.length > 0) {
    console.error(
      `${found.length} unsupported JSDoc tag(s): reword each line so it does not start with "@".`,
    );
    Deno.exit(1);
  }
  console.log(`doc tags: none unsupported in ${Deno.args.join(", ")}`);
}
