// A FIFO of rendered messages, bounded in bytes, for handlers that forward
// over a network. Messages stay in it until they are released: delivered
// (written, or acknowledged by a receiver that acknowledges) or given up on.
// Between its head and its cursor are the messages sent and awaiting an
// acknowledgement (in flight); after the cursor, those not sent yet.

/** A bounded FIFO of messages with their sizes in bytes, and a send cursor. */
export class ForwardingBuffer {
  /** The most bytes the buffer holds. */
  readonly maxBytes: number;
  #items: string[] = [];
  #sizes: number[] = [];
  #head = 0;
  #cursor = 0;
  #bytes = 0;
  #pushed = 0;
  #released = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Messages held: in flight and not sent yet. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes held (UTF-8 bytes of the messages, without framing). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Messages sent and not yet released. */
  get inFlight(): number {
    return this.#cursor - this.#head;
  }

  /** Messages not sent yet. */
  get unsent(): number {
    return this.#items.length - this.#cursor;
  }

  /** How many messages were ever pushed. */
  get pushed(): number {
    return this.#pushed;
  }

  /** How many were released (delivered or given up on), in push order. */
  get released(): number {
    return this.#released;
  }

  /** Whether `bytes` more would fit. */
  fits(bytes: number): boolean {
    return this.#bytes + bytes <= this.maxBytes;
  }

  /** Adds a message at the end; false (and nothing added) when it does not fit. */
  push(message: string, bytes: number): boolean {
    if (this.#bytes + bytes > this.maxBytes) return false;
    this.#items.push(message);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    this.#pushed++;
    return true;
  }

  /** The `k`-th unsent message (0 = the next one to send). */
  unsentMessage(k: number): string {
    return this.#items[this.#cursor + k];
  }

  /** Its size in bytes. */
  unsentBytes(k: number): number {
    return this.#sizes[this.#cursor + k];
  }

  /** Moves the cursor past `count` messages: they are in flight now. */
  markSent(count: number): void {
    this.#cursor += count;
  }

  /** Everything in flight goes back to unsent (to send again after a reconnect); returns how many. */
  rewind(): number {
    const inFlight = this.#cursor - this.#head;
    this.#cursor = this.#head;
    return inFlight;
  }

  /** Removes the `count` oldest messages (in flight first), which are done with; returns their bytes. */
  release(count: number): number {
    const end = this.#head + count;
    let bytes = 0;
    for (let i = this.#head; i < end; i++) bytes += this.#sizes[i];
    this.#bytes -= bytes;
    this.#head = end;
    if (this.#cursor < end) this.#cursor = end;
    this.#released += count;
    this.#compact();
    return bytes;
  }

  /** Removes everything; returns how many messages that was. */
  clear(): number {
    const count = this.length;
    this.release(count);
    return count;
  }

  // Shifting one item at a time off an array is O(n); the head index moves
  // instead, and the consumed part is cut off once it is most of the array.
  #compact() {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#sizes = [];
      this.#cursor -= this.#head;
      this.#head = 0;
    } else if (this.#head >= 4_096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#cursor -= this.#head;
      this.#head = 0;
    }
  }
}
