/**
 * Encoding, the sender's half of the wire format (common/_wire.ts): records
 * or finished lines go into one batch at a time.
 *
 * @module
 */
import type { LogRecord } from "@std/log";
import { captureArgs, capturedSize } from "../common/_capture.ts";
import { type LineBatch, LINES, type RecordBatch, RECORDS } from "../common/_wire.ts";

const NO_TIMES = new Float64Array(0);
const NO_LOGGERS = new Uint16Array(0);

/** Accumulates records or lines into one batch at a time. */
export class BatchBuilder {
  readonly capacity: number;
  #kind: typeof RECORDS | typeof LINES = RECORDS;
  #size = 0;
  #seq = 0;
  #levels!: Uint8Array;
  #ends!: Uint32Array;
  #times!: Float64Array;
  #loggerNames: string[] = [];
  #loggerAt!: Uint16Array;
  #lastLogger = "";
  #lastLoggerAt = -1;
  #argAt: number[] = [];
  #args: unknown[][] = [];
  #minLevel = 255;
  #texts: string[] = [];
  #textLength = 0;
  #bytes = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#allocate();
  }

  /** Records or lines in the batch being built. */
  get size(): number {
    return this.#size;
  }

  /** What the in-flight limit counts for the batch being built: texts and args. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The kind of the batch being built; the first add decides it. */
  get kind(): typeof RECORDS | typeof LINES {
    return this.#kind;
  }

  /**
   * Adds a record; its args are captured now, as JSON-safe data. Returns
   * the size it added.
   */
  addRecord(seq: number, record: LogRecord): number {
    const i = this.#start(seq, RECORDS, record.level);
    this.#times[i] = record.datetime.getTime();
    this.#loggerAt[i] = this.#loggerIndex(record.loggerName);
    let size = this.#addText(i, record.msg, 0);
    const args = record.args;
    if (args.length > 0) {
      this.#argAt.push(i);
      this.#args.push(captureArgs(args));
      size += capturedSize();
      this.#bytes += capturedSize();
    }
    return size;
  }

  /**
   * Adds a finished line (without its "\n"). A "\n" inside it is written as
   * the two characters \n, as textFormatter does: a line batch's lines end
   * where its "\n"s are, and the listener refuses one that says otherwise.
   * Returns the size it added.
   */
  addLine(seq: number, level: number, line: string): number {
    const i = this.#start(seq, LINES, level);
    if (level < this.#minLevel) this.#minLevel = level;
    return this.#addText(i, line.includes("\n") ? line.replaceAll("\n", "\\n") : line, 1);
  }

  /** Hands out the batch and its transfer list, and starts a new one. */
  take(): { batch: RecordBatch | LineBatch; transfer: ArrayBuffer[] } {
    const n = this.#size;
    const common = {
      seq: this.#seq,
      levels: this.#levels.subarray(0, n),
      text: this.#joinTexts(),
      ends: this.#ends.subarray(0, n),
      size: this.#bytes,
    };
    const transfer = [this.#levels.buffer, this.#ends.buffer] as ArrayBuffer[];
    let batch: RecordBatch | LineBatch;
    if (this.#kind === RECORDS) {
      batch = {
        kind: RECORDS,
        ...common,
        times: this.#times.subarray(0, n),
        loggerNames: this.#loggerNames,
        loggerAt: this.#loggerAt.subarray(0, n),
        argAt: this.#argAt,
        args: this.#args,
      };
      transfer.push(this.#times.buffer as ArrayBuffer, this.#loggerAt.buffer as ArrayBuffer);
    } else {
      batch = { kind: LINES, ...common, minLevel: this.#minLevel };
    }
    this.#allocate();
    return { batch, transfer };
  }

  // One join makes one flat string; += would make a rope that structured
  // clone (or the socket's encoder) has to flatten first, and so would
  // appending the last "\n" to the joined lines: an empty last text gives
  // it. A record that travels alone (a big one) is not copied at all.
  #joinTexts(): string {
    const texts = this.#texts;
    if (this.#kind === LINES) {
      texts.push("");
      return texts.join("\n");
    }
    return texts.length === 1 ? texts[0] : texts.join("");
  }

  #start(seq: number, kind: typeof RECORDS | typeof LINES, level: number) {
    if (this.#size === 0) {
      this.#seq = seq;
      this.#kind = kind;
      if (kind === RECORDS && this.#times.length === 0) {
        this.#times = new Float64Array(this.capacity);
        this.#loggerAt = new Uint16Array(this.capacity);
      }
    }
    this.#levels[this.#size] = level;
    return this.#size++;
  }

  // Adds a text that ends at `ends[i]`, followed by `gap` separator characters.
  #addText(i: number, text: string, gap: number): number {
    this.#texts.push(text);
    this.#textLength += text.length;
    this.#ends[i] = this.#textLength;
    this.#textLength += gap;
    this.#bytes += text.length + gap;
    return text.length + gap;
  }

  #loggerIndex(name: string): number {
    if (name !== this.#lastLogger || this.#lastLoggerAt < 0) {
      let at = this.#loggerNames.indexOf(name);
      if (at < 0) at = this.#loggerNames.push(name) - 1;
      this.#lastLogger = name;
      this.#lastLoggerAt = at;
    }
    return this.#lastLoggerAt;
  }

  // Transferred buffers are gone from this side, so each batch gets new
  // ones; the columns only records have wait until a record comes.
  #allocate() {
    this.#size = 0;
    this.#levels = new Uint8Array(this.capacity);
    this.#ends = new Uint32Array(this.capacity);
    this.#times = NO_TIMES;
    this.#loggerAt = NO_LOGGERS;
    this.#texts = [];
    this.#textLength = 0;
    this.#bytes = 0;
    this.#loggerNames = [];
    this.#lastLoggerAt = -1;
    this.#argAt = [];
    this.#args = [];
    this.#minLevel = 255;
  }
}
