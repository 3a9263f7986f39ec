/**
 * Where a socket sender keeps its encoded batches until the listener
 * acknowledges them: large pages, each batch encoded straight into the
 * current one, end to end. Frames of one page are written in one piece
 * from the page itself, and a page all of whose frames are acknowledged is
 * used again. So the hot path neither copies a frame nor allocates memory
 * (fresh memory costs page faults, which are dear on some machines: a
 * `slice()` of 40 KB took 90 µs on the development machine).
 *
 * @module
 */
import {
  type BatchTexts,
  batchTexts,
  type FrameEncoder,
  minBatchFrameBytes,
} from "../common/_frames.ts";
import type { LineBatch, RecordBatch } from "../common/_wire.ts";

/** The size of one page; a frame larger than this gets a buffer of its own. */
const PAGE_BYTES = 1024 * 1024;
/**
 * Emptied pages kept for reuse (beyond the current one). Only pages that
 * were once in use are kept, so a sender never holds more than the most it
 * ever had unacknowledged (itself bounded by `maxBufferBytes`), and at most
 * this many MiB more than it has unacknowledged now.
 */
const SPARE_PAGES = 8;

/** One page: frames end to end in `bytes[0, used)`; `live` of them not yet acknowledged. */
export interface Page {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  used: number;
  live: number;
  /** Pages of an earlier generation are never reused (see `retire()`). */
  readonly generation: number;
}

/** An encoded batch: its bytes, and the page they are on (none for an oversized one). */
export interface StoredFrame {
  readonly bytes: Uint8Array;
  readonly page: Page | undefined;
}

/** The pages of one sender. */
export class FramePages {
  readonly #encoder: FrameEncoder;
  readonly #pageBytes: number;
  #current: Page | undefined;
  #spare: Page[] = [];
  #generation = 0;

  constructor(encoder: FrameEncoder, pageBytes: number = PAGE_BYTES) {
    this.#encoder = encoder;
    this.#pageBytes = pageBytes;
  }

  /**
   * Encodes a batch into the current page, or into a fresh one when it does
   * not fit there. Returns undefined, and keeps nothing, when its frame is
   * longer than `maxBytes`.
   */
  store(batch: RecordBatch | LineBatch, maxBytes: number): StoredFrame | undefined {
    const texts = batchTexts(batch);
    const page = this.#current;
    if (page !== undefined) {
      const stored = this.#storeOn(page, batch, texts, maxBytes);
      if (stored !== null) return stored;
    }
    if (minBatchFrameBytes(batch, texts) <= this.#pageBytes) {
      const fresh = this.#freshPage();
      const stored = this.#storeOn(fresh, batch, texts, maxBytes);
      if (stored !== null && stored !== undefined) {
        this.#current = fresh;
        return stored;
      }
      this.#giveBack(fresh); // the current page keeps its room
      if (stored === undefined) return undefined;
    }
    // Larger than a page: a copy of its own.
    const bytes = this.#encoder.batch(batch, texts);
    return bytes.length > maxBytes ? undefined : { bytes, page: undefined };
  }

  /** The listener has acknowledged a frame: its room may be used again. */
  release(frame: StoredFrame): void {
    const page = frame.page;
    if (page === undefined || --page.live > 0) return;
    if (page.generation !== this.#generation) return; // left to the garbage collector
    if (page === this.#current) page.used = 0;
    else this.#giveBack(page);
  }

  /**
   * The socket was replaced: a write to the old one may still be reading
   * the pages in use, so none of them is reused; new frames go to new pages.
   */
  retire(): void {
    this.#generation++;
    this.#current = undefined;
    this.#spare = [];
  }

  // The frame on `page`, or null when it does not fit there; undefined when
  // it is longer than `maxBytes`.
  #storeOn(
    page: Page,
    batch: RecordBatch | LineBatch,
    texts: BatchTexts,
    maxBytes: number,
  ): StoredFrame | undefined | null {
    const start = page.used;
    const end = this.#encoder.batchInto(batch, page.bytes, page.view, start, texts);
    if (end < 0) return null;
    if (end - start > maxBytes) return undefined;
    page.used = end;
    page.live++;
    return { bytes: page.bytes.subarray(start, end), page };
  }

  #freshPage(): Page {
    const spare = this.#spare.pop();
    if (spare !== undefined) return spare;
    const bytes = new Uint8Array(this.#pageBytes);
    return {
      bytes,
      view: new DataView(bytes.buffer),
      used: 0,
      live: 0,
      generation: this.#generation,
    };
  }

  #giveBack(page: Page) {
    if (page.live > 0 || page.generation !== this.#generation) return;
    page.used = 0;
    if (this.#spare.length < SPARE_PAGES) this.#spare.push(page);
  }
}
