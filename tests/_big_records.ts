// Shared by the sizes tests: a handler that checks big records as they
// arrive, and a run of size_worker.ts checked with it.
import { assertEquals } from "@std/assert";
import { BaseHandler, type LogRecord } from "@std/log";
import { spawn, type WorkerLogRecord } from "@workerlog/workerlog";
import { fixture } from "./_helpers.ts";
import { bigRecord, type SizeWorkerArgs } from "./fixtures/size_worker.ts";

/**
 * Checks every record as it arrives, without keeping it: small ones by
 * text, big ones against size_worker.ts's text in full, each with its
 * number, and every record's seq.
 */
export class CheckingHandler extends BaseHandler {
  /** Per worker, what arrived in order: small texts, and "big i" for each whole big record. */
  readonly arrived = new Map<string, string[]>();
  readonly problems: string[] = [];
  readonly #expected: string;

  constructor(size: number) {
    super("INFO");
    this.#expected = bigRecord(size);
  }

  override handle(record: LogRecord): void {
    const { worker, seq, msg, args } = record as WorkerLogRecord;
    const arrived = this.arrived.get(worker) ?? [];
    this.arrived.set(worker, arrived);
    if (seq !== arrived.length) {
      this.problems.push(`${worker}: seq ${seq} arrived as record ${arrived.length}`);
    }
    if (msg.length < 1_000) return void arrived.push(msg);
    if (msg !== this.#expected) {
      this.problems.push(
        `${worker}: big record ${args[0]} is not whole (${msg.length} characters)`,
      );
    }
    arrived.push(`big ${args[0]}`);
  }

  override log(): void {}
}

/** What size_worker.ts logs, as CheckingHandler records it. */
export function expectedArrivals({ before, count }: SizeWorkerArgs): string[] {
  return [
    ...Array.from({ length: before }, (_, i) => `before ${i}`),
    ...Array.from({ length: count }, (_, i) => `big ${i}`),
    "after",
  ];
}

export async function logBigRecords(args: SizeWorkerArgs) {
  const handler = new CheckingHandler(args.size);
  const results = await spawn(fixture("size_worker.ts"), { count: 1, args, handlers: [handler] });
  assertEquals(results, [args.count]);
  assertEquals(handler.problems, []);
  assertEquals(handler.arrived.get("worker-0"), expectedArrivals(args));
}
