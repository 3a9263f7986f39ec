/**
 * What spawn() needs from a listener, so that it takes a QueueListener (the
 * writing on this thread) and a WriterListener (the writing in a writer
 * worker) alike. A WriterListener's connections come from another thread,
 * so `connect()` may answer with a promise.
 *
 * @module
 */
import type { QueueConnection } from "../common/_wire.ts";
import type { ConnectOptions } from "./queue_listener.ts";

/** A listener senders can be connected to and detached from. */
export interface SenderHub {
  /** Whether `name` is free for a new sender (answered at once, on this thread). */
  isNameFree(name: string): boolean;
  /** Opens a channel for one sender; a name it takes is no longer free from this call on. */
  connect(options: ConnectOptions): QueueConnection | Promise<QueueConnection>;
  /** Writes everything the sender had posted, then closes its channel. */
  detach(name: string): Promise<void>;
}
