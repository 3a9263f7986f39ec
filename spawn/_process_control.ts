/**
 * What spawn() and each process it starts tell each other. The child's
 * stdout and stderr stay the user's, so:
 *
 * - spawn -> child: frames on the child's stdin, a 4-byte big-endian length
 *   and a `node:v8` serialization (structured clone's format): first the
 *   start message, then at most one abort. The end of stdin means spawn()'s
 *   process is gone.
 * - child -> spawn: a report file that only the two can reach (in a 0700
 *   directory, the child allowed to write exactly that path): "loaded" once
 *   the module has loaded, then how the process ended. spawn() reads it
 *   after the child has exited.
 *
 * The records themselves travel over the listener's socket, as from any
 * process that calls `setupProcessLogging()`.
 *
 * @module
 */
import { deserialize, serialize } from "node:v8";
import type { LevelName } from "@std/log";
import { concatFrames } from "../common/_frames.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import type { AbortMessage, Ending } from "./_control.ts";

/**
 * The variable that tells the bootstrap, preloaded in a child, that spawn()
 * started it and waits to write the start message to its stdin. The child
 * may read only this variable of its own accord, and removes it, so that
 * processes it starts in turn do not inherit it.
 */
export const SPAWNED_ENV = "WORKERLOG_SPAWNED";

/** spawn -> child: what to run and where to log. */
export interface ProcessStart {
  kind: "start";
  index: number;
  count: number;
  name: string;
  /** spawn's `args`, serialized once for every child. */
  args: Uint8Array;
  /** spawn's logging options, as checked there, with the level settled. */
  logging: LoggingOptions & { level: LevelName };
  preformat: boolean;
  /** The listener's address and token. */
  address: string;
  token: string;
  /** Where the child writes its reports. */
  reportPath: string;
}

/** Anything spawn() writes to a child's stdin. */
export type ToProcess = ProcessStart | AbortMessage;

/**
 * What a child writes to its report file: "loaded" once its module has
 * loaded (a child that dies before has not), then how it ended: its result
 * serialized, its failure, or its `Deno.exit()` with how many records it
 * had logged, so that spawn() can say how many never reached the listener.
 */
export type ProcessReport =
  | { kind: "loaded" }
  | { kind: "done"; value: Uint8Array }
  | Extract<Ending, { kind: "failed" }>
  | { kind: "exited"; code: number; logged: number };

/** A message as one frame: its length, then its serialization. */
export function encodeMessage(message: ToProcess): Uint8Array {
  const body = serialize(message);
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

/**
 * Cuts the bytes read from stdin into messages. Reads are kept as they
 * came and joined once a message is whole, so that a large one (the args)
 * is copied once, not once per read.
 */
export class MessageReader {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Adds bytes as they were read. */
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  /** The next whole message, or undefined until more bytes arrive. */
  next(): ToProcess | undefined {
    if (this.#length < 4) return undefined;
    // The length alone first: the first read almost always holds it whole.
    const first = this.#chunks[0].length >= 4 ? this.#chunks[0] : this.#joined();
    const length = new DataView(first.buffer, first.byteOffset).getUint32(0);
    if (this.#length < 4 + length) return undefined;
    const head = this.#joined();
    const rest = head.subarray(4 + length);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return deserialize(head.subarray(4, 4 + length)) as ToProcess;
  }

  // Everything read so far, as one piece (a copy only if it is in several).
  #joined(): Uint8Array {
    const joined = concatFrames(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }
}

/** Writes a report, replacing the one before. Never throws: the exit status still tells. */
export function writeReport(path: string, report: ProcessReport): void {
  try {
    Deno.writeFileSync(path, serialize(report));
  } catch {
    // No report: spawn() falls back on the exit status and stderr.
  }
}

/** The last report the child wrote; undefined if none (or a torn one). */
export async function readReport(path: string): Promise<ProcessReport | undefined> {
  try {
    return deserialize(await Deno.readFile(path)) as ProcessReport;
  } catch {
    return undefined;
  }
}

/** A value in structured clone's format; throws as structured clone would. */
export function serializeValue(value: unknown): Uint8Array {
  return serialize(value);
}

/** The value `serializeValue()` serialized. */
export function deserializeValue(bytes: Uint8Array): unknown {
  return deserialize(bytes);
}
