// The handlers module of the writer cases: the same FileHandler the other
// spawned cases give spawn(), built in the writer worker.
import { FileHandler } from "@std/log";
import { textFormatter } from "@workerlog/workerlog";
import { type Shape, userFormatter } from "../_shape.ts";

export default ({ file, shape }: { file: string; shape: Shape }): FileHandler[] => [
  new FileHandler("INFO", {
    filename: file,
    formatter: shape === "user" ? userFormatter : textFormatter,
  }),
];
