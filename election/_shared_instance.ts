/**
 * One instance of a shared log: always a sender (its ProcessHandler sends
 * to the socket, its own records included), and the writer while it holds
 * the lock.
 *
 * - **Election.** At start, and whenever its sender finds nothing listening
 *   at the socket (the writer is gone), an instance tries the lock
 *   (_leadership.ts) and, if it gets it, starts the writer role
 *   (_writer.ts). The other senders' reconnects then reach it, and they
 *   resend what the last writer had not acknowledged. Its own sender needs
 *   no re-routing: it reconnects to the same path like every other.
 * - **Leaving.** When its event loop has nothing left to do ("beforeunload":
 *   `deno serve` has stopped serving it after SIGTERM, or a program's main
 *   module has finished), or on `close()`, an instance holds its loop open
 *   until its own records are acknowledged. A writer then waits, up to
 *   `lingerMs`, while other instances are still connected (they are usually
 *   delivering their last records, so that the file changes hands less
 *   often), stops its listener (which writes and acknowledges everything it
 *   received) and only then releases the lock, so that two writers never
 *   hold the file at once. Nothing it holds keeps the process alive
 *   otherwise.
 *
 * @module
 */
import { within } from "../common/_within.ts";
import type { QueueListener } from "../listener/queue_listener.ts";
import type { ProcessHandler } from "../sender/process_handler.ts";
import { watchUnreachable } from "../sender/process_handler.ts";
import { describeError, type WriterStartError } from "../errors.ts";
import type { Leadership } from "./_leadership.ts";
import { startWriter, type WriterSettings } from "./_writer.ts";
import type { SharedLogging, SharedLoggingStats } from "./setup_shared_logging.ts";

// While leaving, how often the writer looks whether other instances are
// still connected.
const LINGER_POLL_MS = 20;
// A timer that keeps the event loop turning while an instance leaves.
const HOLD_OPEN_MS = 1_000;

/** What an instance needs besides its handler and lock. */
export interface InstanceSettings {
  writer: WriterSettings;
  lingerMs: number;
  closeTimeoutMs: number;
  onWriterChange?: (writing: boolean) => void;
}

/** The SharedLogging that setupSharedLogging() returns. */
export class SharedInstance implements SharedLogging {
  readonly handler: ProcessHandler;
  readonly path: string;
  readonly #leadership: Leadership;
  readonly #settings: InstanceSettings;
  #writer: QueueListener | undefined;
  #starting: Promise<void> | undefined;
  #elections = 0;
  #writerError: WriterStartError | undefined;
  #reported = new Set<string>();
  #leaving: Promise<void> | undefined;
  #left = false;
  #done = false;

  /** Takes part in the election from now on. */
  constructor(handler: ProcessHandler, leadership: Leadership, settings: InstanceSettings) {
    this.handler = handler;
    this.path = settings.writer.path;
    this.#leadership = leadership;
    this.#settings = settings;
    watchUnreachable(handler, () => this.#elect());
    addEventListener("beforeunload", this.#beforeUnload);
    this.#elect();
  }

  get name(): string {
    return this.handler.name;
  }

  get isWriter(): boolean {
    return this.#writer !== undefined;
  }

  stats(): SharedLoggingStats {
    return {
      name: this.name,
      writer: this.isWriter,
      elections: this.#elections,
      writerError: this.#writerError?.message,
      sender: this.handler.stats(),
      ...(this.#writer ? { listener: this.#writer.stats() } : {}),
    };
  }

  flush(): Promise<void> {
    return this.handler.flush();
  }

  close(): Promise<void> {
    removeEventListener("beforeunload", this.#beforeUnload);
    return this.#leave();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #elect() {
    if (this.#left || this.#writer !== undefined || this.#starting !== undefined) return;
    if (!this.#leadership.tryAcquire()) return;
    this.#starting = startWriter(this.#settings.writer).then(
      (listener) => {
        this.#writer = listener;
        this.#elections++;
        this.#writerError = undefined;
        this.#tellWriterChange(true);
      },
      (error: WriterStartError) => {
        this.#leadership.release();
        this.#writerError = error;
        this.#reportOnce(error.message);
      },
    ).finally(() => this.#starting = undefined);
  }

  // The loop has nothing left to do: hold it open until this instance has
  // left. Once it has, the next "beforeunload" lets it end.
  #beforeUnload = (event: Event) => {
    if (this.#done) return;
    event.preventDefault();
    this.#leave();
  };

  #leave(): Promise<void> {
    return this.#leaving ??= this.#leaveNow();
  }

  async #leaveNow() {
    const holdOpen = setInterval(() => {}, HOLD_OPEN_MS);
    let wrote = false;
    try {
      await this.#deliverOwn();
      if (await this.#writing()) {
        await this.#linger();
        await this.#deliverOwn();
      }
      this.#left = true;
      this.handler.close();
      await this.#starting;
      wrote = await this.#stopWriting();
    } finally {
      this.#left = true;
      this.#leadership.close();
      this.#done = true;
      clearInterval(holdOpen);
      if (wrote) this.#tellWriterChange(false);
    }
  }

  // Sends what this instance logged and waits for the writer to acknowledge
  // it, as often as records keep coming, up to closeTimeoutMs in all.
  async #deliverOwn() {
    const deadline = Date.now() + this.#settings.closeTimeoutMs;
    do {
      const left = deadline - Date.now();
      if (left <= 0 || !await within(this.handler.flush().then(() => true), left, false)) {
        const { unacknowledgedRecords } = this.handler.stats();
        this.#reportOnce(
          `workerlog: ${this.name} is ending without ${unacknowledgedRecords} records: no ` +
            `instance acknowledged them within closeTimeoutMs (${this.#settings.closeTimeoutMs} ms)` +
            (this.#writerError ? "; it could not start writing itself (see above)" : ""),
        );
        return;
      }
    } while (this.handler.stats().unacknowledgedRecords > 0);
  }

  async #writing(): Promise<boolean> {
    await this.#starting;
    return this.#writer !== undefined;
  }

  // Other instances still connected are usually delivering their last
  // records: waiting for them keeps one writer to the end.
  async #linger() {
    const deadline = Date.now() + this.#settings.lingerMs;
    while (this.#othersConnected() > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, LINGER_POLL_MS));
    }
  }

  #othersConnected(): number {
    const connected = this.#writer?.stats().peers?.connected ?? 0;
    return connected - (this.handler.stats().connected ? 1 : 0);
  }

  // Stops the listener first (it writes and acknowledges what it received,
  // and removes the socket); the lock goes only after that, in #leaveNow.
  async #stopWriting(): Promise<boolean> {
    const writer = this.#writer;
    if (writer === undefined) return false;
    this.#writer = undefined;
    await writer.stop();
    return true;
  }

  // The user's callback must not end the instance, nor keep its listener
  // from stopping.
  #tellWriterChange(writing: boolean) {
    try {
      this.#settings.onWriterChange?.(writing);
    } catch (error) {
      this.#reportOnce(
        `workerlog: onWriterChange threw (${describeError(error).message}); ${this.name} goes on.`,
      );
    }
  }

  #reportOnce(message: string) {
    if (this.#reported.has(message)) return;
    this.#reported.add(message);
    console.error(message);
  }
}
