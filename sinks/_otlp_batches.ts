/**
 * The OtlpHandler's bounded queue: encoded records grouped into batches as
 * they arrive. A batch is sealed when it holds `batchSize` records or
 * `maxBatchChars` characters, or when the handler asks (flush interval,
 * `drained()`); sealed batches wait, in order, for a request slot. The
 * whole queue holds at most `maxRecords` records and `maxChars` characters;
 * `push()` refuses beyond that.
 *
 * @module
 */

/** A batch of encoded LogRecords, numbered in the order it was started. */
export interface Batch {
  /** Increasing per queue, from 0. */
  readonly seq: number;
  /** The LogRecords' JSON. */
  readonly records: string[];
  /** Their total length in UTF-16 code units (bytes, for ASCII). */
  chars: number;
}

/** The limits of a BatchQueue. */
export interface BatchLimits {
  batchSize: number;
  maxBatchChars: number;
  maxRecords: number;
  maxChars: number;
}

/** Encoded records waiting to be sent, batched. */
export class BatchQueue {
  readonly #limits: BatchLimits;
  readonly #ready: Batch[] = [];
  #building: Batch;
  #records = 0;
  #chars = 0;

  /** An empty queue with these limits. */
  constructor(limits: BatchLimits) {
    this.#limits = limits;
    this.#building = { seq: 0, records: [], chars: 0 };
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
    return this.#building.records.length > 0;
  }

  /**
   * The seq of the last batch holding a record queued so far: everything
   * queued until now is in batches up to it. -1 when nothing was ever queued.
   */
  get lastSeq(): number {
    const building = this.#building;
    return building.records.length > 0 ? building.seq : building.seq - 1;
  }

  /** The lowest seq of a batch still in the queue, or undefined when it is empty. */
  get firstSeq(): number | undefined {
    if (this.#ready.length > 0) return this.#ready[0].seq;
    return this.#building.records.length > 0 ? this.#building.seq : undefined;
  }

  /**
   * Adds one encoded record: false (and nothing added) when the queue is
   * full, "sealed" when this filled a batch, true otherwise.
   */
  push(json: string): boolean | "sealed" {
    const limits = this.#limits;
    if (this.#records >= limits.maxRecords) return false;
    // One record bigger than the whole budget still goes, alone: refusing it
    // forever would lose it without the queue ever being "full".
    if (this.#chars + json.length > limits.maxChars && this.#records > 0) return false;
    let building = this.#building;
    if (building.records.length > 0 && building.chars + json.length > limits.maxBatchChars) {
      this.seal();
      building = this.#building;
    }
    building.records.push(json);
    building.chars += json.length;
    this.#records++;
    this.#chars += json.length;
    if (building.records.length >= limits.batchSize || building.chars >= limits.maxBatchChars) {
      this.seal();
      return "sealed";
    }
    return true;
  }

  /** Seals the batch being built, if it holds anything. */
  seal(): void {
    const building = this.#building;
    if (building.records.length === 0) return;
    this.#ready.push(building);
    this.#building = { seq: building.seq + 1, records: [], chars: 0 };
  }

  /** Takes the oldest sealed batch out of the queue. */
  take(): Batch | undefined {
    const batch = this.#ready.shift();
    if (batch !== undefined) {
      this.#records -= batch.records.length;
      this.#chars -= batch.chars;
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
}
