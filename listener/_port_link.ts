/**
 * The link for senders in other threads: a MessageChannel for the batches
 * and the replies, and a SharedArrayBuffer of flow counters (common/_flow.ts).
 * Other kinds of sender plug into Connection through links of their own.
 *
 * @module
 */
import { CLOSED, createFlow, HANDLED } from "../common/_flow.ts";
import {
  CLOSING,
  type ListenerMessage,
  type QueueConnection,
  SAME_THREAD,
  type SenderMessage,
} from "../common/_wire.ts";
import type { ConnectionLink } from "./_connection.ts";

/** The listener's end of a port link, and the sender's end (`wire`) to transfer. */
export interface PortLink extends ConnectionLink {
  /** What the sender's QueueHandler needs; `wire.port` must be transferred to it. */
  readonly wire: QueueConnection;
  /** Routes the sender's messages to `receive`. */
  listen(receive: (message: SenderMessage) => void): void;
}

/** Opens a port link; `wire` is the rest of what the sender needs to know. */
export function openPortLink(wire: Omit<QueueConnection, "port" | "shared">): PortLink {
  const { port1, port2 } = new MessageChannel();
  const flow = createFlow();
  const sender: QueueConnection = {
    ...wire,
    port: port2,
    shared: flow.buffer as SharedArrayBuffer,
  };
  return {
    flow,
    wire: Object.assign(sender, { [SAME_THREAD]: true }),
    listen(receive) {
      port1.onmessage = (event: MessageEvent<SenderMessage>) => receive(event.data);
    },
    reply(message: ListenerMessage) {
      port1.postMessage(message);
    },
    closing() {
      Atomics.store(flow, CLOSED, 1);
      // A sender blocked at the cap wakes, sees CLOSED and stops waiting.
      Atomics.notify(flow, HANDLED);
      port1.postMessage({ kind: CLOSING });
    },
    release() {
      port1.close();
    },
  };
}
