/**
 * Frames: the wire format between a process that logs and a listener in
 * another process, over a socket. A frame carries the same batches a
 * worker's MessagePort carries (common/_wire.ts), as bytes:
 *
 *     u32 length (of what follows: the type byte and the body), u8 type, body
 *
 * All numbers are little-endian; typed-array columns are copied as they are
 * (every platform Deno runs on is little-endian). Texts are UTF-8; logger
 * names and captured args are JSON.
 *
 * Decoding is strict: a frame whose length passes the limit is refused from
 * its header alone, before a byte of its body is read, and every malformed
 * frame throws a FrameError that names what was wrong.
 *
 * @module
 */
import { type LevelName, LogLevelNames, LogLevels } from "@std/log";
import { WorkerlogError } from "../errors.ts";
import { type LineBatch, LINES, type RecordBatch, RECORDS } from "./_wire.ts";

/** The protocol version a hello carries; a listener refuses any other. */
export const PROTOCOL_VERSION = 1;
/** Frames longer than this are refused unless `maxFrameBytes` says otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** A hello is small: anything longer before the hello is refused. */
export const MAX_HELLO_BYTES = 4 * 1024;
/** The length and the type. */
export const HEADER_BYTES = 5;

/** Sender to listener, first: version, token, name, pid, session. */
export const HELLO = 1;
/** Listener to sender: the hello is accepted; everything below `next` is already written. */
export const WELCOME = 2;
/** Listener to sender: the hello is refused, and why; the listener then closes. */
export const REFUSED = 3;
/** Sender to listener: a RecordBatch. */
export const RECORD_BATCH = 4;
/** Sender to listener: a LineBatch. */
export const LINE_BATCH = 5;
/** Sender to listener: flush the handlers and answer at once. */
export const FLUSH = 6;
/** Listener to sender: the answer to FLUSH, with the cumulative ack. */
export const FLUSHED = 7;
/** Listener to sender: every seq below `next` has been dispatched and flushed. */
export const ACK = 8;
/** Sender to listener: a logger nobody listed was routed to the listener. */
export const UNLISTED = 9;
/** Sender to listener: this many records were dropped because its buffer was full. */
export const DROPPED = 10;
/** Listener to sender: send the batch being built now (the listener is stopping). */
export const POST_NOW = 11;

/** Why a frame could not be decoded. */
export type FrameFault =
  | "too-large"
  | "unknown-type"
  | "truncated"
  | "trailing-bytes"
  | "bad-utf8"
  | "bad-json"
  | "bad-field";

/**
 * A frame that cannot be decoded: too long, of an unknown type, cut short,
 * or with a field that makes no sense. The listener closes the peer that
 * sent it and counts it; nothing else is affected.
 */
export class FrameError extends WorkerlogError {
  /** What was wrong. */
  readonly fault: FrameFault;

  /** Builds the error; `detail` says which field and why. */
  constructor(fault: FrameFault, detail: string) {
    super(
      `Malformed workerlog frame (${fault}): ${detail}. The peer is not a workerlog sender of ` +
        `this version, or the stream is corrupt; it has been disconnected.`,
    );
    this.fault = fault;
  }
}

/** What a hello says. */
export interface Hello {
  version: number;
  token: string;
  /** The sender's name, as records carry it. */
  name: string;
  pid: number;
  /** Random per sending process: tells a reconnect from another process of the same name. */
  session: string;
  /** Whether this sender has sent batches before (to this listener or an earlier one). */
  resuming: boolean;
}

/** Any frame, decoded. */
export type Frame =
  | { type: typeof HELLO; hello: Hello }
  | { type: typeof WELCOME; next: number }
  | { type: typeof REFUSED; reason: string }
  | { type: typeof RECORD_BATCH; batch: RecordBatch }
  | { type: typeof LINE_BATCH; batch: LineBatch }
  | { type: typeof FLUSH; id: number }
  | { type: typeof FLUSHED; id: number; next: number }
  | { type: typeof ACK; next: number }
  | { type: typeof UNLISTED; logger: string; level: LevelName }
  | { type: typeof DROPPED; count: number }
  | { type: typeof POST_NOW };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const MAX_SHORT_TEXT = 1024;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const VALID_LEVEL = new Uint8Array(256);
for (const name of LogLevelNames) VALID_LEVEL[LogLevels[name]] = 1;

// ---------------------------------------------------------------- encoding

/**
 * Builds frames; reuses one scratch buffer, so each frame costs one exact-size
 * copy, except for batches encoded by `batchInto()` straight into the caller's
 * buffer.
 */
export class FrameEncoder {
  #scratch = new Uint8Array(64 * 1024);
  #view = new DataView(this.#scratch.buffer);

  /** A hello frame. */
  hello(hello: Hello): Uint8Array {
    const token = encoder.encode(hello.token);
    const name = encoder.encode(hello.name);
    const w = this.#start(HELLO, 2 + 4 + 1 + 16 + 2 + token.length + 2 + name.length);
    w.u16(hello.version).u32(hello.pid).u8(hello.resuming ? 1 : 0).bytes(hexBytes(hello.session))
      .u16(token.length).bytes(token).u16(name.length).bytes(name);
    return w.end();
  }

  /** A batch of records or lines; its texts as UTF-8, names and args as JSON. */
  batch(batch: RecordBatch | LineBatch, texts: BatchTexts = batchTexts(batch)): Uint8Array {
    const w = this.#start(batchType(batch), fixedBatchBytes(batch) + texts.length * 3);
    writeBatch(w, batch, texts);
    return w.end();
  }

  /**
   * Encodes a batch frame straight into `out` from `at` on, without a copy.
   * Returns where the frame ends, or -1 when it does not fit in what is left
   * of `out` (nothing then counts as written). `view` is a DataView of
   * `out`'s whole buffer. `texts`: the batch's, when the caller has them.
   */
  batchInto(
    batch: RecordBatch | LineBatch,
    out: Uint8Array,
    view: DataView,
    at: number,
    texts: BatchTexts = batchTexts(batch),
  ): number {
    if (at + minBatchFrameBytes(batch, texts) > out.length) return -1;
    const w = new Writer(out, view, batchType(batch), at);
    writeBatch(w, batch, texts);
    return w.overflowed ? -1 : w.finish();
  }

  /** A frame that carries one number (ACK, WELCOME, DROPPED, FLUSH) or two (FLUSHED). */
  numbers(type: typeof ACK | typeof WELCOME, next: number): Uint8Array;
  numbers(type: typeof FLUSH | typeof DROPPED, value: number): Uint8Array;
  numbers(type: typeof FLUSHED, id: number, next: number): Uint8Array;
  numbers(type: number, a: number, b?: number): Uint8Array {
    if (type === FLUSHED) return this.#start(type, 12).u32(a).f64(b!).end();
    if (type === FLUSH || type === DROPPED) return this.#start(type, 4).u32(a).end();
    return this.#start(type, 8).f64(a).end();
  }

  /** A REFUSED frame with its reason. */
  refused(reason: string): Uint8Array {
    return this.#start(REFUSED, 4 + reason.length * 3).text(reason).end();
  }

  /** An UNLISTED frame. */
  unlisted(logger: string, level: LevelName): Uint8Array {
    return this.#start(UNLISTED, 1 + 4 + logger.length * 3).u8(LogLevels[level]).text(logger)
      .end();
  }

  /** A POST_NOW frame. */
  postNow(): Uint8Array {
    return this.#start(POST_NOW, 0).end();
  }

  #start(type: number, maxBody: number): Writer {
    const need = HEADER_BYTES + maxBody;
    if (this.#scratch.length < need) {
      this.#scratch = new Uint8Array(Math.max(need, this.#scratch.length * 2));
      this.#view = new DataView(this.#scratch.buffer);
    }
    return new Writer(this.#scratch, this.#view, type, 0);
  }
}

/** The texts of a batch frame, as they go on the wire. */
export interface BatchTexts {
  text: string;
  /** Logger names and args, as JSON (records only). */
  names: string;
  args: string;
  /** Their total length in UTF-16 units: at most 3 bytes each in UTF-8. */
  length: number;
}

/**
 * The fewest bytes a batch's frame can take: UTF-8 takes at least a byte per
 * UTF-16 unit, so a frame longer than this is not tried where it cannot fit.
 */
export function minBatchFrameBytes(batch: RecordBatch | LineBatch, texts: BatchTexts): number {
  return HEADER_BYTES + fixedBatchBytes(batch) + texts.length;
}

/** A batch's texts (names and args as JSON): built once per batch, however often it is tried. */
export function batchTexts(batch: RecordBatch | LineBatch): BatchTexts {
  const text = batch.text;
  if (batch.kind === LINES) return { text, names: "", args: "", length: text.length };
  const names = JSON.stringify(batch.loggerNames);
  const args = batch.argAt.length === 0 ? "" : JSON.stringify([batch.argAt, batch.args]);
  return { text, names, args, length: text.length + names.length + args.length };
}

function batchType(batch: RecordBatch | LineBatch): number {
  return batch.kind === LINES ? LINE_BATCH : RECORD_BATCH;
}

// The body's bytes besides the texts themselves (their u32 lengths included).
function fixedBatchBytes(batch: RecordBatch | LineBatch): number {
  const n = batch.levels.length;
  return batch.kind === LINES ? 8 + 4 + 4 + 1 + n * 5 + 4 : 8 + 4 + 4 + n * 15 + 12;
}

function writeBatch(w: Writer, batch: RecordBatch | LineBatch, texts: BatchTexts) {
  w.f64(batch.seq).u32(batch.levels.length).u32(batch.size);
  if (batch.kind === LINES) {
    w.u8(batch.minLevel).array(batch.levels).array(batch.ends).text(texts.text);
    return;
  }
  w.array(batch.times).array(batch.levels).array(batch.ends).array(batch.loggerAt)
    .text(texts.text).text(texts.names).text(texts.args);
}

// Writes a frame into `buf` from `start` on. The caller makes sure the
// numbers and columns fit; a text that does not fit sets `overflowed`.
class Writer {
  readonly #start: number;
  #at: number;
  /** A text did not fit: the frame is incomplete. */
  overflowed = false;
  constructor(
    readonly buf: Uint8Array,
    readonly view: DataView,
    readonly type: number,
    start: number,
  ) {
    this.#start = start;
    this.#at = start + HEADER_BYTES;
  }
  u8(value: number): this {
    this.view.setUint8(this.#at, value);
    this.#at += 1;
    return this;
  }
  u16(value: number): this {
    this.view.setUint16(this.#at, value, true);
    this.#at += 2;
    return this;
  }
  u32(value: number): this {
    this.view.setUint32(this.#at, value, true);
    this.#at += 4;
    return this;
  }
  f64(value: number): this {
    this.view.setFloat64(this.#at, value, true);
    this.#at += 8;
    return this;
  }
  bytes(bytes: Uint8Array): this {
    this.buf.set(bytes, this.#at);
    this.#at += bytes.length;
    return this;
  }
  array(array: ArrayBufferView): this {
    return this.bytes(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }
  // A u32 byte length, then the UTF-8 text.
  text(text: string): this {
    if (this.overflowed) return this;
    const at = this.#at + 4;
    if (at > this.buf.length) {
      this.overflowed = true;
      return this;
    }
    const { read, written } = encoder.encodeInto(text, this.buf.subarray(at));
    if (read < text.length) this.overflowed = true;
    this.view.setUint32(this.#at, written, true);
    this.#at = at + written;
    return this;
  }
  /** Writes the header; returns where the frame ends. */
  finish(): number {
    this.view.setUint32(this.#start, this.#at - this.#start - 4, true);
    this.view.setUint8(this.#start + 4, this.type);
    return this.#at;
  }
  /** Writes the header; returns a copy of the frame (room for all of it was reserved). */
  end(): Uint8Array {
    return this.buf.slice(this.#start, this.finish());
  }
}

// ---------------------------------------------------------------- decoding

/**
 * Cuts a byte stream into frames. Bytes are read into `space()`; a frame
 * longer than the buffer gets a buffer of its exact size, but only once its
 * header has passed the length limit, so a peer that claims 4 GB never
 * makes this allocate anything.
 */
export class FrameReader {
  readonly maxFrameBytes: number;
  #buf = new Uint8Array(INITIAL_READ_BUFFER);
  #view = new DataView(this.#buf.buffer);
  #start = 0;
  #end = 0;
  /** Before the hello only a small HELLO frame is admitted. */
  helloOnly = true;

  /** A reader that refuses frames longer than `maxFrameBytes`. */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Whether part of a frame is buffered (a frame has started but not ended). */
  get partial(): boolean {
    return this.#end > this.#start;
  }

  /** Where to read the next bytes into: the free end of the buffer. */
  space(): Uint8Array {
    const pending = this.#end - this.#start;
    let need = INITIAL_READ_BUFFER;
    if (pending >= HEADER_BYTES) {
      const length = Math.min(this.#view.getUint32(this.#start, true), this.maxFrameBytes);
      need = Math.max(need, 4 + length);
    }
    if (this.#start > 0 && (this.#buf.length - this.#end < 4096 || pending === 0)) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end = pending;
      this.#start = 0;
    }
    if (need > this.#buf.length) {
      this.#grow(need);
    } else if (pending === 0 && this.#buf.length > SHRINK_ABOVE) {
      this.#grow(INITIAL_READ_BUFFER); // a big frame is done with: give the memory back
    }
    return this.#buf.subarray(this.#end);
  }

  /** Says that `count` bytes were read into `space()`. */
  wrote(count: number): void {
    this.#end += count;
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. Its body is
   * a view into the buffer, valid until the next `space()`. Throws a
   * FrameError as soon as a header is refused.
   */
  next(): { type: number; body: Uint8Array } | undefined {
    const available = this.#end - this.#start;
    if (available < HEADER_BYTES) return undefined;
    const length = this.#view.getUint32(this.#start, true);
    const type = this.#buf[this.#start + 4];
    if (this.helloOnly) {
      if (type !== HELLO) {
        throw new FrameError("unknown-type", `expected a hello, got type ${type}`);
      }
      if (length > MAX_HELLO_BYTES) throw new FrameError("too-large", "a hello longer than 4 KiB");
    }
    if (length > this.maxFrameBytes) {
      throw new FrameError(
        "too-large",
        `a frame of ${length} bytes, over the limit of ${this.maxFrameBytes} (maxFrameBytes)`,
      );
    }
    if (length < 1) throw new FrameError("truncated", "a frame without a type");
    if (available < 4 + length) return undefined;
    const body = this.#buf.subarray(this.#start + HEADER_BYTES, this.#start + 4 + length);
    this.#start += 4 + length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { type, body };
  }

  #grow(size: number) {
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

const INITIAL_READ_BUFFER = 256 * 1024;
const SHRINK_ABOVE = 4 * 1024 * 1024;

/** Decodes one frame's body. Throws a FrameError naming what is wrong. */
export function decodeFrame(type: number, body: Uint8Array): Frame {
  const r = new Reader(body);
  let frame: Frame;
  switch (type) {
    case HELLO:
      frame = { type, hello: decodeHello(r) };
      break;
    case WELCOME:
    case ACK:
      frame = { type, next: r.seq("next") };
      break;
    case REFUSED:
      frame = { type, reason: r.text(MAX_SHORT_TEXT) };
      break;
    case RECORD_BATCH:
      frame = { type, batch: decodeRecordBatch(r) };
      break;
    case LINE_BATCH:
      frame = { type, batch: decodeLineBatch(r) };
      break;
    case FLUSH:
      frame = { type, id: r.u32() };
      break;
    case FLUSHED:
      frame = { type, id: r.u32(), next: r.seq("next") };
      break;
    case UNLISTED: {
      const level = r.level();
      frame = { type, level: LevelNameOf[level], logger: r.text(MAX_SHORT_TEXT) };
      break;
    }
    case DROPPED:
      frame = { type, count: droppedCount(r.u32()) };
      break;
    case POST_NOW:
      frame = { type };
      break;
    default:
      throw new FrameError("unknown-type", `frame type ${type}`);
  }
  r.done();
  return frame;
}

const LevelNameOf: Record<number, LevelName> = Object.fromEntries(
  LogLevelNames.map((name) => [LogLevels[name], name]),
);

// The listener adds it to an Int32 counter; a sender reports what it
// dropped since its last report, far below 2^31.
function droppedCount(count: number): number {
  if (count > 0x7fff_ffff) throw new FrameError("bad-field", `a dropped count of ${count}`);
  return count;
}

function decodeHello(r: Reader): Hello {
  const version = r.u16();
  if (version !== PROTOCOL_VERSION) {
    // The rest may be laid out differently: it is not read.
    r.skipRest();
    return { version, token: "", name: "", pid: 0, session: "", resuming: false };
  }
  const pid = r.u32();
  const flags = r.u8();
  if (flags > 1) throw new FrameError("bad-field", `hello flags ${flags}`);
  const session = bytesHex(r.bytes(16));
  const token = r.shortText();
  const name = r.shortText();
  if (name.length === 0 || name.length > 256 || CONTROL.test(name)) {
    throw new FrameError(
      "bad-field",
      "a sender name must be 1 to 256 characters without control characters",
    );
  }
  return { version, token, name, pid, session, resuming: flags === 1 };
}

function decodeRecordBatch(r: Reader): RecordBatch {
  const { seq, n, size } = batchHead(r, 15);
  const times = new Float64Array(r.column(n * 8));
  const levels = r.levels(n);
  const ends = new Uint32Array(r.column(n * 4));
  const loggerAt = new Uint16Array(r.column(n * 2));
  const text = r.text();
  const loggerNames = r.json("logger names");
  if (!Array.isArray(loggerNames) || !loggerNames.every((name) => typeof name === "string")) {
    throw new FrameError("bad-field", "logger names must be an array of strings");
  }
  for (let i = 0; i < n; i++) {
    if (loggerAt[i] >= loggerNames.length) {
      throw new FrameError(
        "bad-field",
        `record ${i} names logger ${loggerAt[i]} of ${loggerNames.length}`,
      );
    }
  }
  checkEnds(ends, text.length);
  const { argAt, args } = decodeArgs(r, n);
  return {
    kind: RECORDS,
    seq,
    levels,
    text,
    ends,
    size,
    times,
    loggerNames,
    loggerAt,
    argAt,
    args,
  };
}

function decodeLineBatch(r: Reader): LineBatch {
  const { seq, n, size } = batchHead(r, 5);
  const minLevel = r.u8();
  const levels = r.levels(n);
  const ends = new Uint32Array(r.column(n * 4));
  const text = r.text();
  // Each line is followed by "\n": ends[i] is where that "\n" is, and it is
  // the first one after the line before (so the ends go up, within the text,
  // and no line holds a "\n", which would write a second, forged line).
  if (n > 0 && ends[n - 1] !== text.length - 1) {
    throw new FrameError("bad-field", "the text of a line batch must end with its last line");
  }
  let from = 0;
  for (let i = 0; i < n; i++) {
    const newline = text.indexOf("\n", from);
    if (newline !== ends[i]) throw new FrameError("bad-field", lineFault(i, newline, ends[i]));
    if (levels[i] < minLevel) throw new FrameError("bad-field", "a line below minLevel");
    from = newline + 1;
  }
  return { kind: LINES, seq, levels, text, ends, size, minLevel };
}

function lineFault(i: number, newline: number, end: number): string {
  return newline >= 0 && newline < end
    ? `line ${i} holds a "\\n" before its end (a formatter must escape line breaks)`
    : `line ${i} does not end where its end says`;
}

function batchHead(r: Reader, bytesPerRecord: number) {
  const seq = r.seq("seq");
  const n = r.u32();
  if (n === 0 || n * bytesPerRecord > r.left) {
    throw new FrameError("bad-field", `a batch of ${n} records in ${r.left} bytes`);
  }
  if (seq + n > Number.MAX_SAFE_INTEGER) throw new FrameError("bad-field", "seq past 2^53");
  return { seq, n, size: r.u32() };
}

// The records' ends must not go down, and stay within the text.
function checkEnds(ends: Uint32Array, length: number) {
  let previous = 0;
  for (let i = 0; i < ends.length; i++) {
    if (ends[i] < previous || ends[i] > length) {
      throw new FrameError("bad-field", `text ${i} ends at ${ends[i]}, outside its batch text`);
    }
    previous = ends[i];
  }
}

function decodeArgs(r: Reader, n: number): { argAt: number[]; args: unknown[][] } {
  const raw = r.text();
  if (raw === "") return { argAt: [], args: [] };
  const parsed = parseJson(raw, "args");
  const valid = Array.isArray(parsed) && parsed.length === 2 && Array.isArray(parsed[0]) &&
    Array.isArray(parsed[1]) && parsed[0].length === parsed[1].length;
  if (!valid) throw new FrameError("bad-field", "args must be [argAt, args] of equal lengths");
  const [argAt, args] = parsed as [unknown[], unknown[]];
  let previous = -1;
  for (let i = 0; i < argAt.length; i++) {
    const at = argAt[i];
    if (!Number.isInteger(at) || (at as number) <= previous || (at as number) >= n) {
      throw new FrameError("bad-field", `argAt[${i}] = ${at}`);
    }
    if (!Array.isArray(args[i])) throw new FrameError("bad-field", `args[${i}] is not an array`);
    previous = at as number;
  }
  return { argAt: argAt as number[], args: args as unknown[][] };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FrameError("bad-json", `${what} are not JSON`);
  }
}

class Reader {
  readonly #body: Uint8Array;
  readonly #view: DataView;
  #at = 0;
  constructor(body: Uint8Array) {
    this.#body = body;
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }
  get left(): number {
    return this.#body.length - this.#at;
  }
  #take(count: number): number {
    if (count > this.left) {
      throw new FrameError("truncated", `needed ${count} more bytes, ${this.left} left`);
    }
    const at = this.#at;
    this.#at += count;
    return at;
  }
  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }
  seq(what: string): number {
    const value = this.#view.getFloat64(this.#take(8), true);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new FrameError("bad-field", `${what} ${value} is not a whole number from 0 to 2^53`);
    }
    return value;
  }
  level(): number {
    const level = this.u8();
    if (VALID_LEVEL[level] === 0) throw new FrameError("bad-field", `level ${level}`);
    return level;
  }
  levels(n: number): Uint8Array {
    const levels = this.bytes(n);
    for (let i = 0; i < n; i++) {
      if (VALID_LEVEL[levels[i]] === 0) throw new FrameError("bad-field", `level ${levels[i]}`);
    }
    return levels;
  }
  /** A copy (aligned, and independent of the read buffer). */
  bytes(count: number): Uint8Array {
    const at = this.#take(count);
    return this.#body.slice(at, at + count);
  }
  column(count: number): ArrayBuffer {
    return this.bytes(count).buffer as ArrayBuffer;
  }
  text(max = Infinity): string {
    const length = this.u32();
    if (length > max) throw new FrameError("bad-field", `a text of ${length} bytes`);
    return this.#utf8(length);
  }
  shortText(): string {
    return this.#utf8(this.u16());
  }
  json(what: string): unknown {
    return parseJson(this.text(), what);
  }
  #utf8(length: number): string {
    const at = this.#take(length);
    try {
      return decoder.decode(this.#body.subarray(at, at + length));
    } catch {
      throw new FrameError("bad-utf8", "a text that is not UTF-8");
    }
  }
  skipRest() {
    this.#at = this.#body.length;
  }
  done() {
    if (this.left !== 0) {
      throw new FrameError("trailing-bytes", `${this.left} bytes after the frame`);
    }
  }
}

/** Whether a name or token has control characters (which would forge log lines). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** 16 random bytes as hex: a session id. */
export function newSession(): string {
  return randomHex(16);
}

/** `bytes` random bytes as hex: session ids, tokens, names. */
export function randomHex(bytes: number): string {
  return bytesHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16) || 0;
  return bytes;
}

function bytesHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The frames end to end, in one buffer: one write for many small frames. */
export function concatFrames(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0];
  let length = 0;
  for (const frame of frames) length += frame.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}
