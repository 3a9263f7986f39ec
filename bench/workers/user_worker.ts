// The worker of the user-shape preformat case: the same records as
// log_worker.ts, formatted in the worker by the user's formatter.
export { default } from "./log_worker.ts";
export { userFormatter as formatter } from "../_shape.ts";
