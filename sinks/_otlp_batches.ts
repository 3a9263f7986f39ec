/**
 * The OtlpHandler's bounded queue: encoded records grouped into batches as
 * they arrive. A batch is sealed when it holds `batchSize` records or
 * `maxBatchBytes` bytes, or when the handler asks (flush interval,
 * `drained()`); sealed batches wait, in order, for a request slot. The
 * whole queue holds at most `maxRecords` records and `maxBytes` bytes;
 * `push()` refuses beyond that.
 *
 * Each record's JSON is written as UTF-8 straight into its batch's byte
 * array, between the request's envelope (written first) and its closing
 * text (written when sealed), so a sealed batch is the finished request
 * body: no join, no encoding at send time, and no strings held while
 * records wait (thousands of queued strings made the garbage collector the
 * biggest cost of the handler).
 *
 * @module
 */

/** A batch of encoded LogRecords, numbered in the order it was started. */
export interface Batch {
  /** Increasing per queue, from 0. */
  readonly seq: number;
  /** How many LogRecords it holds. */
  count: number;
  /** Their JSON's size in bytes (without the envelope and the commas). */
  bytes: number;
  /** The request body being written; its first `length` bytes are used. */
  body: Uint8Array<ArrayBuffer>;
  length: number;
}

/** The limits of a BatchQueue. */
export interface BatchLimits {
  batchSize: number;
  maxBatchBytes: number;
  maxRecords: number;
  maxBytes: number;
}

/** What every request body starts and ends with, around the records' JSON. */
export interface Envelope {
  head: string;
  tail: string;
}

const COMMA = 0x2c;
const FIRST_CAPACITY = 64 * 1024;

/** Encoded records waiting to be sent, batched. */
export class BatchQueue {
  readonly #limits: BatchLimits;
  readonly #head: Uint8Array<ArrayBuffer>;
  readonly #tail: Uint8Array<ArrayBuffer>;
  readonly #encoder = new TextEncoder();
  readonly #ready: Batch[] = [];
  #building: Batch;
  #records = 0;
  #bytes = 0;
  // The size of the last sealed batch: the next one starts that big.
  #lastSize = FIRST_CAPACITY;

  /** An empty queue with these limits, writing bodies inside `envelope`. */
  constructor(limits: BatchLimits, envelope: Envelope) {
    this.#limits = limits;
    this.#head = this.#encoder.encode(envelope.head);
    this.#tail = this.#encoder.encode(envelope.tail);
    this.#building = this.#newBatch(0);
  }

  /** Records waiting, in sealed batches and the one being built. */
  get records(): number {
    return this.#records;
  }

  /** Whether a sealed batch is waiting. */
  get hasReady(): boolean {
    return this.#ready.length > 0;
  }

  /** Whether the batch being built holds any record. */
  get hasPartial(): boolean {
    return this.#building.count > 0;
  }

  /**
   * The seq of the last batch holding a record queued so far: everything
   * queued until now is in batches up to it. -1 when nothing was ever queued.
   */
  get lastSeq(): number {
    const building = this.#building;
    return building.count > 0 ? building.seq : building.seq - 1;
  }

  /** The lowest seq of a batch still in the queue, or undefined when it is empty. */
  get firstSeq(): number | undefined {
    if (this.#ready.length > 0) return this.#ready[0].seq;
    return this.#building.count > 0 ? this.#building.seq : undefined;
  }

  /**
   * Adds one encoded record: false (and nothing added) when the queue is
   * full, "sealed" when this filled a batch, true otherwise.
   */
  push(json: string): boolean | "sealed" {
    const limits = this.#limits;
    if (this.#records >= limits.maxRecords) return false;
    let building = this.#building;
    let size = this.#write(building, json);
    // One record bigger than the whole budget still goes, alone: refusing it
    // forever would lose it without the queue ever being "full".
    if (this.#bytes + size > limits.maxBytes && this.#records > 0) return false;
    if (building.count > 0 && building.bytes + size > limits.maxBatchBytes) {
      this.seal();
      building = this.#building;
      size = this.#write(building, json);
    }
    building.length += size + (building.count > 0 ? 1 : 0);
    building.count++;
    building.bytes += size;
    this.#records++;
    this.#bytes += size;
    if (building.count >= limits.batchSize || building.bytes >= limits.maxBatchBytes) {
      this.seal();
      return "sealed";
    }
    return true;
  }

  /** Seals the batch being built, if it holds anything: its body is then complete. */
  seal(): void {
    const building = this.#building;
    if (building.count === 0) return;
    this.#reserve(building, this.#tail.length);
    building.body.set(this.#tail, building.length);
    building.length += this.#tail.length;
    building.body = building.body.subarray(0, building.length);
    this.#lastSize = building.length;
    this.#ready.push(building);
    this.#building = this.#newBatch(building.seq + 1);
  }

  /** Takes the oldest sealed batch out of the queue. */
  take(): Batch | undefined {
    const batch = this.#ready.shift();
    if (batch !== undefined) {
      this.#records -= batch.count;
      this.#bytes -= batch.bytes;
    }
    return batch;
  }

  /** Empties the queue; returns how many records it held. */
  clear(): number {
    const records = this.#records;
    this.seal();
    while (this.take() !== undefined);
    return records;
  }

  #newBatch(seq: number): Batch {
    const body = new Uint8Array(Math.max(this.#lastSize + (this.#lastSize >> 3), FIRST_CAPACITY));
    body.set(this.#head);
    return { seq, count: 0, bytes: 0, body, length: this.#head.length };
  }

  // Writes ",json" (or "json" for the first record) after the batch's used
  // bytes without counting it as used yet; returns the JSON's size in bytes.
  // Encodes into the room there is, and grows the array only when the
  // record did not fit (then encodes it again).
  #write(batch: Batch, json: string): number {
    const separator = batch.count > 0 ? 1 : 0;
    for (;;) {
      const start = batch.length + separator;
      if (start < batch.body.length) {
        const { read, written } = this.#encoder.encodeInto(json, batch.body.subarray(start));
        if (read === json.length) {
          if (separator) batch.body[batch.length] = COMMA;
          return written;
        }
      }
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      this.#reserve(batch, separator + json.length * 3);
    }
  }

  #reserve(batch: Batch, more: number) {
    const needed = batch.length + more;
    if (needed <= batch.body.length) return;
    const grown = new Uint8Array(Math.max(needed, batch.body.length * 2));
    grown.set(batch.body.subarray(0, batch.length));
    batch.body = grown;
  }
}
