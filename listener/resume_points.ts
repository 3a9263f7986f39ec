/**
 * Where each sender's records end in a log file, for a listener that
 * restarts after the last one was killed: `listen({ resume })` then drops
 * what the senders resend that is already in the file.
 *
 * @module
 */

/**
 * Options of {@linkcode readResumePoints}.
 *
 * @example
 * ```ts
 * import type { ResumePointsOptions } from "@workerlog/workerlog";
 *
 * const options: ResumePointsOptions = { repair: false };
 * ```
 */
export interface ResumePointsOptions {
  /**
   * Cut a last line that has no "\n" (a write the killed listener did not
   * finish) off the file, so that its record is written again, whole.
   * Default: true.
   */
  repair?: boolean;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Reads a log file that `jsonLinesFormatter` wrote and returns, per sender
 * (its `worker` field), the seq after the one on its last line in the file:
 * what a listener restarted on this file passes to `listen({ resume })`. A
 * sender that reconnects then resends only what is missing, and each record
 * is in the file once. A missing file gives an empty map. Lines that are not
 * JSON or have no seq (notices, main-thread lines without a WorkerLogRecord)
 * are skipped.
 *
 * The last line counts, not the highest seq: a name's records are in the
 * file in seq order, and one process at a time sends under a name, so a
 * later process that reused the name (starting again at seq 0) is the one a
 * restarted listener resumes.
 *
 * Read it before the listener's handlers open the file (before `start()`).
 *
 * @example Restart a listener on the same file and socket
 * ```ts ignore
 * import { jsonLinesFormatter, QueueListener, readResumePoints } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * const resume = await readResumePoints("app.log");
 * const listener = new QueueListener([
 *   new FileHandler("INFO", { filename: "app.log", mode: "a", formatter: jsonLinesFormatter }),
 * ]).start();
 * await listener.listen({ path: "/run/app/log.sock", token: Deno.env.get("LOG_TOKEN"), resume });
 * ```
 */
export async function readResumePoints(
  path: string,
  options?: ResumePointsOptions,
): Promise<Map<string, number>> {
  const repair = options?.repair ?? true;
  const next = new Map<string, number>();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return next;
    throw error;
  }
  const decoder = new TextDecoder();
  let whole = 0; // bytes up to and including the last "\n"
  let offset = 0;
  let carry = new Uint8Array(0);
  try {
    const chunk = new Uint8Array(CHUNK_BYTES);
    for (;;) {
      const count = await file.read(chunk);
      if (count === null) break;
      const bytes = concat(carry, chunk.subarray(0, count));
      const last = bytes.lastIndexOf(10);
      if (last < 0) {
        carry = bytes.slice();
      } else {
        for (const line of decoder.decode(bytes.subarray(0, last)).split("\n")) note(line, next);
        carry = bytes.slice(last + 1);
        whole = offset + count - carry.length;
      }
      offset += count;
    }
  } finally {
    file.close();
  }
  if (carry.length > 0 && repair) await Deno.truncate(path, whole);
  return next;
}

function note(line: string, next: Map<string, number>) {
  if (line === "") return;
  let fields: { worker?: unknown; seq?: unknown };
  try {
    fields = JSON.parse(line);
  } catch {
    return;
  }
  const { worker, seq } = fields;
  if (typeof worker !== "string" || !Number.isSafeInteger(seq) || (seq as number) < 0) return;
  next.set(worker, (seq as number) + 1);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
