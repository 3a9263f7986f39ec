// The worker of the spawned cases: logs `records` records of a shape through
// plain @std/log and returns the median cost of one log call and its heap.
import * as log from "@std/log";
import type { WorkerContext } from "@workerlog/workerlog/worker";
import {
  epochMs,
  heapFigures,
  messageOf,
  type Shape,
  timedLoop,
  USER_LOGGER,
  type WorkerFigures,
} from "../_shape.ts";
// The formatter of preformat runs (the text shape only).
export { textFormatter as formatter } from "@workerlog/workerlog/worker";

export default function (
  { args }: WorkerContext<{ records: number; shape: Shape }>,
): WorkerFigures {
  const logger = args.shape === "user" ? log.getLogger(USER_LOGGER) : log.getLogger();
  const message = messageOf(args.shape);
  const firstLogAt = epochMs();
  const perCallUs = timedLoop(0, args.records, (i) => logger.info(message(i)));
  return { firstLogAt, perCallUs, ...heapFigures() };
}
