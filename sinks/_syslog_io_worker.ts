// A SyslogHandler's network side, in a worker of its own: it holds the
// messages the handler posts, connects (and reconnects with backoff), sends
// over TCP, TLS, UDP or RELP, reads RELP's acknowledgements, and reports
// progress and faults back. Why a worker: see _io_worker.ts.
import { ForwardingBuffer } from "./_forwarding_buffer.ts";
import { asError, connectStream, type Link, StreamLink, UdpLink } from "./_syslog_transport.ts";
import { RelpLink } from "./_relp.ts";
import { serveIo } from "./_io_worker.ts";
import {
  COUNT,
  type SyslogIoFault,
  type SyslogIoReport,
  type SyslogIoRequest,
  type SyslogIoSetup,
} from "./_syslog_io_protocol.ts";

class SyslogWriter {
  readonly #setup: SyslogIoSetup;
  // The handler bounds what it hands over; here it is only held.
  readonly #buffer = new ForwardingBuffer(Infinity);
  readonly #counts: BigInt64Array;
  #faults: SyslogIoFault[] = [];
  #reportScheduled = false;
  #link: Link | undefined;
  #running = false;
  #wakeWriter: (() => void) | undefined;
  #failures = 0;
  #connections = 0;
  #connectedAt = 0;
  #resendPending = 0;
  #ending = false;
  // One report per episode: set when reported, cleared by a success (see #stayedUp).
  #linkFaultReported = false;
  #refusalReported = false;
  #drainWaiter: (() => void) | undefined;

  constructor(setup: SyslogIoSetup) {
    this.#setup = setup;
    this.#counts = new BigInt64Array(setup.counts);
  }

  #count(counter: number, by: number) {
    if (by !== 0) Atomics.add(this.#counts, counter, BigInt(by));
  }

  receive(request: SyslogIoRequest) {
    if (request.kind === "messages") this.#take(request.text, request.ends, request.sizes);
    else if (request.kind === "close") this.#close(request.timeoutMs);
  }

  #take(text: string, ends: Uint32Array, sizes: Uint32Array) {
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      this.#buffer.push(text.slice(start, ends[i]), sizes[i]);
      start = ends[i];
    }
    this.#wake();
  }

  async #close(timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    if (this.#buffer.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#drainWaiter = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    // The session's end (RELP close, the server's serverclose) is no fault.
    this.#ending = true;
    if (this.#buffer.length === 0) {
      try {
        await this.#link?.end(deadline);
      } catch { /* closing anyway */ }
    }
    this.#link?.close();
    this.#report(true);
  }

  #wake() {
    if (!this.#running) {
      this.#running = true;
      this.#write();
      return;
    }
    const wake = this.#wakeWriter;
    if (wake !== undefined) {
      this.#wakeWriter = undefined;
      wake();
    }
  }

  #sleep(): Promise<void> {
    return new Promise((resolve) => this.#wakeWriter = resolve);
  }

  async #write() {
    while (!this.#ending) {
      const link = this.#link;
      if (link?.failure !== undefined) {
        await this.#lost(link, link.failure);
        continue;
      }
      if (this.#buffer.unsent === 0 || (link !== undefined && !link.ready)) {
        await this.#sleep();
        continue;
      }
      if (link === undefined) {
        await this.#connect();
        continue;
      }
      try {
        const count = await link.send(this.#buffer);
        this.#sentFirstTime(count);
        if (!link.acknowledges) this.#delivered(count);
      } catch (error) {
        if (link.failure === undefined) link.close();
        await this.#lost(link, asError(error));
      }
    }
  }

  // Counts what a send wrote: first sends, and resends after a rewind.
  #sentFirstTime(count: number) {
    const resent = Math.min(count, this.#resendPending);
    this.#resendPending -= resent;
    this.#count(COUNT.resent, resent);
    this.#count(COUNT.sent, count - resent);
    this.#scheduleReport();
  }

  async #connect() {
    const { transport, endpoint, relpWindow } = this.#setup;
    const events = {
      wake: () => this.#wake(),
      answered: (ok: boolean, answer: string) => this.#answered(ok, answer),
    };
    try {
      this.#resendPending += this.#buffer.rewind();
      const link = transport === "relp"
        ? await RelpLink.connect(endpoint, this.#buffer, relpWindow, events)
        : transport === "udp"
        ? await UdpLink.connect(endpoint, events)
        : new StreamLink(await connectStream(endpoint, transport === "tls"), events);
      if (this.#ending) {
        link.close();
        return;
      }
      this.#link = link;
      this.#connectedAt = Date.now();
      if (this.#connections++ > 0) this.#count(COUNT.reconnects, 1);
    } catch (error) {
      this.#count(COUNT.failedConnects, 1);
      this.#fault("connect", asError(error));
      await this.#backoff();
    }
  }

  async #lost(link: Link, error: Error) {
    link.close();
    if (this.#link === link) this.#link = undefined;
    if (!link.acknowledges && this.#stayedUp()) this.#recovered();
    this.#resendPending += this.#buffer.rewind();
    this.#fault("lost", error);
    await this.#backoff();
  }

  // Without acknowledgements a successful write proves nothing: the kernel
  // takes it even on a connection the receiver accepted only to drop. So
  // over TCP, TLS and UDP a loss ends the episode (a new report, backoff from
  // reconnectMinMs again) only if the connection had stayed up for
  // 10 * reconnectMinMs (1 s by default); RELP's ends at an acknowledgement.
  #stayedUp(): boolean {
    return Date.now() - this.#connectedAt >= 10 * this.#setup.reconnectMinMs;
  }

  #recovered() {
    this.#failures = 0;
    this.#linkFaultReported = false;
  }

  #fault(what: "connect" | "lost", error: Error) {
    this.#scheduleReport();
    if (this.#ending || this.#linkFaultReported) return;
    this.#linkFaultReported = true;
    this.#faults.push({ what, message: error.message });
  }

  // Exponential backoff with "equal jitter": between half and all of
  // min * 2^failures, capped. New messages do not end it.
  #backoff(): Promise<void> {
    const { reconnectMinMs, reconnectMaxMs } = this.#setup;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 30);
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    return new Promise<void>((resolve) => setTimeout(resolve, delay));
  }

  #answered(ok: boolean, answer: string) {
    if (ok) {
      this.#count(COUNT.acknowledged, 1);
      this.#refusalReported = false;
    } else {
      this.#count(COUNT.refused, 1);
      if (!this.#refusalReported) {
        this.#refusalReported = true;
        this.#faults.push({ what: "refused", message: answer });
      }
    }
    this.#recovered();
    this.#delivered(1, ok);
  }

  // Messages released from the buffer's head.
  #delivered(count: number, ok = true) {
    this.#count(COUNT.releasedBytes, this.#buffer.release(count));
    this.#count(COUNT.released, count);
    if (ok) this.#count(COUNT.delivered, count);
    if (this.#buffer.length === 0) this.#drainWaiter?.();
    this.#scheduleReport();
  }

  // At most one report per task: answers come in bursts of hundreds.
  #scheduleReport() {
    if (this.#reportScheduled) return;
    this.#reportScheduled = true;
    queueMicrotask(() => this.#report(false));
  }

  #report(closed: boolean) {
    this.#reportScheduled = false;
    const faults = this.#faults;
    this.#faults = [];
    report({ kind: "report", faults, closed });
  }
}

let writer: SyslogWriter | undefined;
const report = serveIo<SyslogIoRequest, SyslogIoReport>((request) => {
  if (request.kind === "setup") writer = new SyslogWriter(request);
  else writer?.receive(request);
});
