// Shared by the tests: temporary log files and reading them back.
import { assert } from "@std/assert";
import { FileHandler, type LevelName } from "@std/log";
import { jsonLinesFormatter } from "@workerlog/workerlog";

/** A FileHandler writing JSON Lines to `filename`. */
export function jsonFile(filename: string, level: LevelName = "INFO"): FileHandler {
  return new FileHandler(level, { filename, formatter: jsonLinesFormatter });
}

/** A fresh temporary directory, removed when the returned object is disposed. */
export async function tempDir(): Promise<
  AsyncDisposable & { path: string; file(name: string): string }
> {
  const path = await Deno.makeTempDir({ prefix: "workerlog_test_" });
  return {
    path,
    file: (name) => `${path}/${name}`,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** The lines of a file, without the empty string after the last "\n". */
export async function readLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  assert(text === "" || text.endsWith("\n"), `${path} does not end with a newline`);
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

/** One line of jsonLinesFormatter output. */
export interface JsonLine {
  time: string;
  level: string;
  worker: string;
  logger: string;
  msg: string;
  seq: number;
  args?: unknown[];
}

/** Parses every line as JSON; fails the test naming the first line that does not parse. */
export async function readJsonLines(path: string): Promise<JsonLine[]> {
  return (await readLines(path)).map((line, i) => {
    try {
      return JSON.parse(line) as JsonLine;
    } catch {
      throw new Error(`line ${i + 1} of ${path} is not JSON: ${line.slice(0, 200)}`);
    }
  });
}

/** One line of textFormatter output, split into its fields. */
export interface TextLine {
  time: string;
  level: string;
  worker: string;
  logger: string;
  rest: string;
}

const TEXT_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([A-Z]+) \[([^\]]*)\] ([^:]*): (.*)$/;

/** Parses every line as textFormatter output; fails naming the first that does not. */
export async function readTextLines(path: string): Promise<TextLine[]> {
  return (await readLines(path)).map((line, i) => {
    const match = TEXT_LINE.exec(line);
    if (!match) {
      throw new Error(`line ${i + 1} of ${path} is not a text record: ${line.slice(0, 200)}`);
    }
    const [, time, level, worker, logger, rest] = match;
    return { time, level, worker, logger, rest };
  });
}

/** The URL of a fixture worker module. */
export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/**
 * Checks that every worker's records are complete and in order: `seq` runs
 * 0, 1, 2, ... without gaps or repeats. Returns the count per worker.
 */
export function assertCompleteAndOrdered(lines: JsonLine[]): Map<string, number> {
  const next = new Map<string, number>();
  for (const line of lines) {
    const expected = next.get(line.worker) ?? 0;
    assert(
      line.seq === expected,
      `${line.worker}: expected seq ${expected}, found ${line.seq} (${line.msg})`,
    );
    next.set(line.worker, expected + 1);
  }
  return next;
}
