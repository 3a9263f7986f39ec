// Offline stand-in for the slice of jsr:@std/assert@^1.0.0 this project's
// tests use: same names, signatures and failure behaviour.

/** Thrown by every assertion that fails. */
export class AssertionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionError";
  }
}

/** Throws unless `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/** Throws unless `expr` is falsy. */
export function assertFalse(expr: unknown, msg = ""): void {
  if (expr) throw new AssertionError(msg);
}

/** Throws unless `actual` and `expected` are deeply equal. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    withSuffix(
      `Values are not equal:\n  actual: ${show(actual)}\nexpected: ${show(expected)}`,
      msg,
    ),
  );
}

/** Throws if `actual` and `expected` are deeply equal. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    withSuffix(`Expected actual: ${show(actual)} not to be: ${show(expected)}`, msg),
  );
}

/** Throws unless `actual` and `expected` are the same value (Object.is). */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (Object.is(actual, expected)) return;
  throw new AssertionError(
    withSuffix(
      `Values are not strictly equal:\n  actual: ${show(actual)}\nexpected: ${show(expected)}`,
      msg,
    ),
  );
}

/** Throws unless `actual` is neither null nor undefined. */
export function assertExists<T>(
  actual: T,
  msg?: string,
): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(
      withSuffix(`Expected actual: "${actual}" to not be null or undefined.`, msg),
    );
  }
}

/** Throws unless `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(withSuffix(`Expect ${show(actual)} > ${show(expected)}`, msg));
}

/** Throws unless `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (actual >= expected) return;
  throw new AssertionError(withSuffix(`Expect ${show(actual)} >= ${show(expected)}`, msg));
}

/** Throws unless `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (actual < expected) return;
  throw new AssertionError(withSuffix(`Expect ${show(actual)} < ${show(expected)}`, msg));
}

/** Throws unless `actual <= expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (actual <= expected) return;
  throw new AssertionError(withSuffix(`Expect ${show(actual)} <= ${show(expected)}`, msg));
}

/** Throws unless `actual` contains `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    withSuffix(`Expected actual: "${actual}" to contain: "${expected}".`, msg),
  );
}

/** Throws unless `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (expected.test(actual)) return;
  throw new AssertionError(
    withSuffix(`Expected actual: "${actual}" to match: "${expected}".`, msg),
  );
}

// deno-lint-ignore no-explicit-any
type AnyConstructor = new (...args: any[]) => any;

/** Throws unless `actual` is an instance of `expectedType`. */
export function assertInstanceOf<T extends AnyConstructor>(
  actual: unknown,
  expectedType: T,
  msg = "",
): asserts actual is InstanceType<T> {
  if (actual instanceof expectedType) return;
  throw new AssertionError(
    withSuffix(
      `Expected object to be an instance of "${expectedType.name}" but was "${
        (actual as object | null)?.constructor?.name ?? typeof actual
      }".`,
      msg,
    ),
  );
}

/** Calls `fn`; throws unless it throws, optionally of a class and with text. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: abstract new (...args: never[]) => E,
  msgIncludes?: string,
  msg?: string,
): E {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  return checkThrown(error, ErrorClass, msgIncludes, msg, "throw");
}

/** Awaits `fn()`; throws unless it rejects, optionally of a class and with text. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: abstract new (...args: never[]) => E,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  return checkThrown(error, ErrorClass, msgIncludes, msg, "reject");
}

/** Always throws: marks code that must not be reached. */
export function fail(msg?: string): never {
  throw new AssertionError(withSuffix("Failed assertion", msg));
}

function checkThrown<E extends Error>(
  error: unknown,
  ErrorClass: (abstract new (...args: never[]) => E) | undefined,
  msgIncludes: string | undefined,
  msg: string | undefined,
  verb: "throw" | "reject",
): E {
  if (error === undefined) {
    throw new AssertionError(withSuffix(`Expected function to ${verb}.`, msg));
  }
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(
      withSuffix(
        `Expected error to be instance of "${ErrorClass.name}", but was "${
          (error as Error)?.constructor?.name
        }".`,
        msg,
      ),
    );
  }
  if (
    msgIncludes !== undefined &&
    !String((error as Error)?.message).includes(msgIncludes)
  ) {
    throw new AssertionError(
      withSuffix(
        `Expected error message to include "${msgIncludes}", but got "${
          (error as Error)?.message
        }".`,
        msg,
      ),
    );
  }
  return error as E;
}

function withSuffix(text: string, msg: string | undefined): string {
  return msg ? `${text}: ${msg}` : text;
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: Infinity, sorted: true, trailingComma: true });
}

function equal(a: unknown, b: unknown, seen = new Map<unknown, unknown>()): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(
      (b as ArrayBufferView).buffer,
      (b as ArrayBufferView).byteOffset,
      (b as ArrayBufferView).byteLength,
    );
    return x.length === y.length && x.every((byte, i) => byte === y[i]);
  }
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [key, value] of a) {
      if (!other.has(key) || !equal(value, other.get(key), seen)) return false;
    }
    return true;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    return a.size === other.size && [...a].every((value) => other.has(value));
  }
  const keysA = Reflect.ownKeys(a);
  const keysB = Reflect.ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) =>
    Object.hasOwn(b, key) &&
    equal((a as Record<PropertyKey, unknown>)[key], (b as Record<PropertyKey, unknown>)[key], seen)
  );
}
