/**
 * Captures log arguments at the moment of the log call as JSON-safe data.
 *
 * Records cross threads after the log call returns, so an argument that is
 * mutated later must not change what was logged (Python's QueueHandler.prepare
 * does the same for this reason). The copy is plain JSON data, so every
 * formatter on the listener side can `JSON.stringify` it without throwing, and
 * what structured clone cannot carry (functions, symbols) arrives readable.
 *
 * @module
 */

const MAX_DEPTH = 64;

/**
 * Returns `args` as JSON-safe data: the same array when every item is already
 * a JSON primitive, a converted copy otherwise. Never throws.
 */
export function captureArgs(args: readonly unknown[]): unknown[] {
  size = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!isJsonPrimitive(arg)) {
      size = 0;
      return args.map((arg) => toJsonSafe(arg));
    }
    size += typeof arg === "string" ? arg.length : PRIMITIVE_SIZE;
  }
  return args as unknown[];
}

/**
 * About how many characters the args of the last `captureArgs()` call take
 * as JSON: string lengths, plus a few per other value and key. The in-flight
 * and batch limits count it, so cheap beats exact.
 */
export function capturedSize(): number {
  return size;
}

const PRIMITIVE_SIZE = 4;
let size = 0;

/**
 * A JSON-safe copy of any value. Strings, booleans, null and finite numbers
 * stay; undefined becomes null (and is left out of objects, as JSON does);
 * other numbers, bigints, symbols and functions become strings; boxed
 * primitives their value; Dates ISO strings (anything with `toJSON()` what
 * that returns); Maps objects; Sets, typed arrays and sparse arrays arrays;
 * Errors `{ name, message, stack, cause }` and their own fields; other
 * objects their own enumerable fields; cycles "[Circular]"; anything deeper
 * than 64 levels or that throws when read a string that says so.
 */
export function toJsonSafe(value: unknown): unknown {
  try {
    return convert(value, [], 0);
  } catch (error) {
    return `[unreadable: ${describeThrown(error)}]`;
  }
}

function isJsonPrimitive(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    default:
      return value === null;
  }
}

function convert(value: unknown, path: object[], depth: number): unknown {
  size += PRIMITIVE_SIZE;
  switch (typeof value) {
    case "string":
      size += value.length;
      return value;
    case "boolean":
      return value;
    case "number":
    case "bigint":
      return convertNumber(value);
    case "symbol":
      return value.toString();
    case "function":
      return describeFunction(value);
    case "undefined":
      return null;
  }
  if (value === null) return null;
  const object = value as object;
  if (path.includes(object)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[nested too deep]";
  path.push(object);
  try {
    return convertObject(object, path, depth + 1);
  } catch (error) {
    // Only this value is lost (a toJSON() or a proxy trap that throws); its
    // siblings and parents are kept.
    return `[unreadable: ${describeThrown(error)}]`;
  } finally {
    path.pop();
  }
}

function convertObject(object: object, path: object[], depth: number): unknown {
  if (Array.isArray(object)) {
    return Array.from(object, (item) => convert(item, path, depth));
  }
  if (isBoxedPrimitive(object)) {
    return convert((object as { valueOf(): unknown }).valueOf(), path, depth);
  }
  if (object instanceof Error) return convertError(object, path, depth);
  if (object instanceof Map) {
    const entries: Record<string, unknown> = {};
    for (const [key, item] of object) {
      entries[typeof key === "string" ? key : String(convert(key, path, depth))] = convert(
        item,
        path,
        depth,
      );
    }
    return entries;
  }
  if (object instanceof Set) {
    return Array.from(object, (item) => convert(item, path, depth));
  }
  if (ArrayBuffer.isView(object)) return convertView(object);
  if (object instanceof ArrayBuffer || object instanceof SharedArrayBuffer) {
    return `[${object.constructor.name} ${object.byteLength} bytes]`;
  }
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    return convert(toJSON.call(object), path, depth);
  }
  return convertProperties(object, {}, path, depth);
}

function isBoxedPrimitive(object: object): boolean {
  return object instanceof Number || object instanceof String || object instanceof Boolean ||
    object instanceof BigInt || object instanceof Symbol;
}

function convertError(error: Error, path: object[], depth: number): unknown {
  const result: Record<string, unknown> = {
    name: readSafely(() => error.name),
    message: readSafely(() => error.message),
    stack: readSafely(() => error.stack),
  };
  if ("cause" in error) result.cause = convert(error.cause, path, depth);
  // AggregateError's errors are an own property, but not enumerable.
  if (error instanceof AggregateError) result.errors = convert(error.errors, path, depth);
  return convertProperties(error, result, path, depth);
}

function convertProperties(
  object: object,
  into: Record<string, unknown>,
  path: object[],
  depth: number,
): Record<string, unknown> {
  for (const key of Object.keys(object)) {
    const item = readSafely(() => (object as Record<string, unknown>)[key]);
    size += key.length;
    if (item !== undefined) into[key] = convert(item, path, depth);
  }
  return into;
}

function convertView(view: ArrayBufferView): unknown {
  if (view instanceof DataView) return `[DataView ${view.byteLength} bytes]`;
  const items = view as unknown as ArrayLike<number | bigint>;
  size += items.length * PRIMITIVE_SIZE;
  return Array.from(items, convertNumber);
}

// JSON has no NaN, ±Infinity or BigInt: they become strings ("NaN", "1n"),
// in a typed array as anywhere else.
function convertNumber(value: number | bigint): number | string {
  return typeof value === "bigint" ? `${value}n` : Number.isFinite(value) ? value : String(value);
}

function describeFunction(fn: unknown): string {
  const name = (fn as { name?: unknown }).name;
  return typeof name === "string" && name !== "" ? `[Function: ${name}]` : "[Function (anonymous)]";
}

function readSafely(read: () => unknown): unknown {
  try {
    return read();
  } catch (error) {
    return `[unreadable: ${describeThrown(error)}]`;
  }
}

function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "unknown error";
  }
}
