/**
 * spawn()'s side of a child process's pipes: messages written to its stdin,
 * and its stderr passed through to this process's stderr, keeping the tail
 * for the error that explains a crash.
 *
 * @module
 */
import { concatFrames } from "../common/_frames.ts";
import { within } from "../common/_within.ts";
import { encodeMessage, type ToProcess } from "./_process_control.ts";

/** How much of a child's stderr is kept for its error. */
const TAIL_BYTES = 4 * 1024;
/** How many of its last lines go into the error. */
const TAIL_LINES = 12;

/** Writes messages to a child's stdin, in order; a child that is gone is no error. */
export class ChildInput {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #writes: Promise<void> = Promise.resolve();

  constructor(stdin: WritableStream<Uint8Array>) {
    this.#writer = stdin.getWriter();
  }

  /** Queues a message. */
  send(message: ToProcess): void {
    const frame = encodeMessage(message);
    this.#writes = this.#writes.then(() => this.#writer.write(frame)).catch(() => {});
  }

  /** Closes stdin once what is queued is written: the child reads its end. */
  close(): Promise<void> {
    return this.#writes.then(() => this.#writer.close()).catch(() => {});
  }
}

/** Passes a child's stderr through to this process's, keeping its last bytes. */
export class StderrTail {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #done: Promise<void>;
  #kept: Uint8Array[] = [];
  #keptBytes = 0;

  constructor(stderr: ReadableStream<Uint8Array>) {
    this.#reader = stderr.getReader();
    this.#done = this.#pump();
  }

  /**
   * Resolves once the child's stderr has ended, or after `ms` (a process it
   * started may hold the pipe open), then stops reading.
   */
  async ended(ms: number): Promise<void> {
    await within(this.#done, ms, undefined);
    await this.#reader.cancel().catch(() => {});
  }

  /** The last lines, without terminal colours; "" if there were none. */
  text(): string {
    // deno-lint-ignore no-control-regex
    const text = new TextDecoder().decode(concatFrames(this.#kept)).replace(/\x1b\[[0-9;]*m/g, "")
      .trim();
    return text.split("\n").slice(-TAIL_LINES).join("\n");
  }

  async #pump() {
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) return;
        await writeAll(value);
        this.#keep(value);
      }
    } catch {
      // Cancelled, or the pipe broke: what was kept stays.
    }
  }

  #keep(chunk: Uint8Array) {
    this.#kept.push(chunk);
    this.#keptBytes += chunk.length;
    while (this.#keptBytes - this.#kept[0].length >= TAIL_BYTES) {
      this.#keptBytes -= this.#kept.shift()!.length;
    }
  }
}

async function writeAll(bytes: Uint8Array) {
  try {
    for (let at = 0; at < bytes.length;) at += await Deno.stderr.write(bytes.subarray(at));
  } catch {
    // This process's stderr is closed: the child's output still goes into its error.
  }
}
