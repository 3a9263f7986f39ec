// The worker of the workerlog cases: logs `records` records through plain
// @std/log and returns the median cost of one log call in µs.
import * as log from "@std/log";
import type { WorkerContext } from "@workerlog/workerlog/worker";
import { message, timedLoop } from "../_shape.ts";
export { textFormatter as formatter } from "@workerlog/workerlog/worker";

export default function ({ args }: WorkerContext<{ records: number }>): number {
  const logger = log.getLogger();
  return timedLoop(0, args.records, (i) => logger.info(message(i)));
}
