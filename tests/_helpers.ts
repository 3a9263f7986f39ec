// Shared by the tests: temporary log files and reading them back.
import { assert } from "@std/assert";
import { FileHandler, type LevelName } from "@std/log";
import { jsonLinesFormatter } from "@workerlog/workerlog";

/** A FileHandler writing JSON Lines to `filename`. */
export function jsonFile(filename: string, level: LevelName = "INFO"): FileHandler {
  return new FileHandler(level, { filename, formatter: jsonLinesFormatter });
}

/**
 * How long a test lets a child process run before it is sent SIGTERM (the
 * `signal` of its Deno.Command): a hung child fails its test instead of
 * hanging the suite.
 */
export const CHILD_DEADLINE_MS = 60_000;

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
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

/**
 * A file another thread or process appends to, read a complete line at a
 * time: each `next()` reads only what was added since the last call, so a
 * poll costs what it reads, not the size of the file. A missing file has
 * no lines yet.
 */
export class AppendedLines {
  readonly path: string;
  #offset = 0;
  #pending = "";
  #decoder = new TextDecoder();
  #chunk = new Uint8Array(1 << 20); // one buffer for every read: a fresh MiB per poll costs page faults

  constructor(path: string) {
    this.path = path;
  }

  /** The complete lines added since the last call, without their "\n". */
  async next(): Promise<string[]> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    let text = this.#pending;
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const chunk = this.#chunk;
      for (let read = await file.read(chunk); read !== null; read = await file.read(chunk)) {
        this.#offset += read;
        // A character can be cut between two reads: the decoder keeps its first bytes.
        text += this.#decoder.decode(chunk.subarray(0, read), { stream: true });
      }
    } finally {
      file.close();
    }
    const lines = text.split("\n");
    this.#pending = lines.pop()!; // a line still being written
    return lines;
  }
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

/**
 * Polls `condition` every few milliseconds until it holds. Fails after
 * `timeoutMs` with a message that says what it waited for, so no test can
 * hang on a condition that never comes true.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `promise`'s outcome, or a failure naming `what` if it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps this thread for `ms` without returning to the event loop. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * `waitFor` for code that must not yield, e.g. a handler that holds up the
 * listener's thread until a worker has reached some point: sleeps 1 ms
 * between polls, and fails after `timeoutMs` saying what it waited for.
 */
export function waitForSync(what: string, condition: () => boolean, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    sleepSync(1);
  }
}

/** A small disk: a tmpfs mounted on a fresh directory, unmounted when disposed. */
export interface SmallDisk extends AsyncDisposable {
  /** Where it is mounted. */
  path: string;
  /** Writes a file that takes every byte left on the disk; deleting it frees them again. */
  fill(name?: string): string;
}

/** Mounts a tmpfs of `kib` KiB (needs root, as in CI). */
export async function smallDisk(kib = 256): Promise<SmallDisk> {
  const dir = await tempDir();
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir.path]);
  } catch (error) {
    await dir[Symbol.asyncDispose]();
    throw error;
  }
  return {
    path: dir.path,
    fill(name = "filler") {
      const path = `${dir.path}/${name}`;
      using file = Deno.openSync(path, { create: true, append: true });
      const chunk = new Uint8Array(4096);
      for (let i = 0; i < kib; i++) {
        try {
          file.writeSync(chunk);
        } catch (error) {
          if (error instanceof Error && /No space left/.test(error.message)) return path;
          throw error;
        }
      }
      throw new Error(`${path}: wrote ${kib} KiB and the disk is still not full`);
    },
    async [Symbol.asyncDispose]() {
      await run("umount", ["--lazy", dir.path]); // lazy: even while a failed test holds a file open
      await dir[Symbol.asyncDispose]();
    },
  };
}

/**
 * Whether this process may mount a tmpfs; when it may not, says why on
 * stderr so that the tests it skips are not skipped silently.
 */
export async function canMountTmpfs(): Promise<boolean> {
  try {
    await using _ = await smallDisk(64);
    return true;
  } catch (error) {
    console.error(
      `Skipping the full-disk tests: cannot mount a tmpfs (${
        error instanceof Error ? error.message : error
      }). They need root, as in CI.`,
    );
    return false;
  }
}

async function run(command: string, args: string[]) {
  const { code, stderr } = await new Deno.Command(command, {
    args,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/** The URL of a fixture worker module. */
export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/** The records of the senders: the lines without a listener's own notices (logger "workerlog"). */
export function senderRecords(lines: JsonLine[]): JsonLine[] {
  return lines.filter((line) => line.logger !== "workerlog");
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
