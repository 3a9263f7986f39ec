/**
 * The OpenTelemetry environment variables an OTLP/HTTP logs exporter reads,
 * as the OTel specification defines them: endpoint, headers, timeout,
 * service name and resource attributes. Reading never prompts and never
 * throws for want of `--allow-env`: a variable that may not be read counts
 * as unset and is listed in `unreadable`, so the handler can say so.
 *
 * @module
 */

import { InvalidOptionError } from "../errors.ts";
import type { AttributeValue } from "./_otlp_payload.ts";

/** The logs endpoint when neither options nor environment name one. */
export const DEFAULT_LOGS_ENDPOINT = "http://localhost:4318/v1/logs";

/** What the environment says, each field only where it says something. */
export interface OtlpEnvironment {
  /** The logs endpoint, already with "/v1/logs" where the base URL needed it. */
  endpoint?: string;
  /** Which variable the endpoint came from, for error messages. */
  endpointVariable?: string;
  /** Headers for every export request. */
  headers?: Record<string, string>;
  /** The request timeout in milliseconds. */
  timeoutMs?: number;
  /** Resource attributes, `service.name` from OTEL_SERVICE_NAME included. */
  resource: Record<string, AttributeValue>;
  /** Variables that were wanted but could not be read (no permission). */
  unreadable: string[];
  /** Variables whose values were malformed and ignored, with why. */
  ignored: string[];
}

/** Reads one variable, or says that it may not. */
export type EnvReader = (name: string) => string | undefined | typeof UNREADABLE;

/**
 * Where tests slip an EnvReader into OtlpHandler's options instead of
 * Deno.env: a symbol, so it is no public option.
 */
export const ENV_READER: unique symbol = Symbol("workerlog.otlpEnvReader");

/** What an EnvReader returns for a variable it has no permission to read. */
export const UNREADABLE: unique symbol = Symbol("unreadable");

/**
 * Reads from `Deno.env`, only where permission is already granted: asking
 * would block on a prompt in a terminal, and throw without one.
 */
export const denoEnv: EnvReader = (name) => {
  try {
    const { state } = Deno.permissions.querySync({ name: "env", variable: name });
    if (state !== "granted") return UNREADABLE;
    return Deno.env.get(name);
  } catch {
    return UNREADABLE;
  }
};

/** Which settings the options already give, so their variables are not read. */
export interface Wanted {
  endpoint: boolean;
  headers: boolean;
  timeout: boolean;
}

/** Reads the OTel variables the options leave open. */
export function readOtlpEnvironment(wanted: Wanted, read: EnvReader = denoEnv): OtlpEnvironment {
  const environment: OtlpEnvironment = { resource: {}, unreadable: [], ignored: [] };
  const get = (name: string): string | undefined => {
    const value = read(name);
    if (value === UNREADABLE) {
      environment.unreadable.push(name);
      return undefined;
    }
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  if (wanted.endpoint) readEndpoint(environment, get);
  if (wanted.headers) {
    const text = get("OTEL_EXPORTER_OTLP_LOGS_HEADERS") ?? get("OTEL_EXPORTER_OTLP_HEADERS");
    if (text !== undefined) environment.headers = parseHeaders(text);
  }
  if (wanted.timeout) readTimeout(environment, get);
  readResource(environment, get);
  return environment;
}

function readEndpoint(environment: OtlpEnvironment, get: (name: string) => string | undefined) {
  const logs = get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
  if (logs !== undefined) {
    // The signal's own variable is the full URL, used as is.
    environment.endpoint = checkUrl("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs);
    environment.endpointVariable = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
    return;
  }
  const base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base !== undefined) {
    checkUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base);
    environment.endpoint = logsUrlFromBase(base);
    environment.endpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
  }
}

/**
 * The logs URL for a base endpoint: "v1/logs" appended to its path, with one
 * slash between ("http://c:4318" and "http://c:4318/" both give
 * "http://c:4318/v1/logs"; "http://c/otel" gives "http://c/otel/v1/logs").
 */
export function logsUrlFromBase(base: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/logs`;
  return url.href;
}

/** Checks that `value` is an http(s) URL; throws naming `option` if not. */
export function checkUrl(option: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InvalidOptionError(
      option,
      value,
      'an http or https URL, e.g. "http://localhost:4318/v1/logs"',
    );
  }
  return url.href;
}

/**
 * Parses "key1=value1,key2=value2" (the W3C Baggage list syntax the OTel
 * specification uses for OTEL_EXPORTER_OTLP_HEADERS): values are
 * percent-decoded, blanks around keys and values trimmed. An entry without
 * "=" or that does not decode is skipped.
 */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of text.split(",")) {
    const pair = splitPair(entry);
    if (pair !== undefined) headers[pair[0]] = pair[1];
  }
  return headers;
}

/**
 * Parses OTEL_RESOURCE_ATTRIBUTES ("key1=value1,key2=value2", values
 * percent-decoded). As the specification says, a value that does not
 * decode makes the whole variable be ignored: returns undefined then.
 */
export function parseResourceAttributes(text: string): Record<string, string> | undefined {
  const attributes: Record<string, string> = {};
  for (const entry of text.split(",")) {
    if (entry.trim() === "") continue;
    const pair = splitPair(entry);
    if (pair === undefined) return undefined;
    attributes[pair[0]] = pair[1];
  }
  return attributes;
}

function splitPair(entry: string): [string, string] | undefined {
  const equals = entry.indexOf("=");
  if (equals < 1) return undefined;
  const key = entry.slice(0, equals).trim();
  if (key === "") return undefined;
  try {
    return [key, decodeURIComponent(entry.slice(equals + 1).trim())];
  } catch {
    return undefined; // a malformed %-escape
  }
}

function readTimeout(environment: OtlpEnvironment, get: (name: string) => string | undefined) {
  for (const name of ["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]) {
    const text = get(name);
    if (text === undefined) continue;
    const ms = Number(text);
    if (Number.isInteger(ms) && ms > 0) {
      environment.timeoutMs = ms;
      return;
    }
    environment.ignored.push(`${name}=${JSON.stringify(text)} (not a whole number of ms)`);
  }
}

function readResource(environment: OtlpEnvironment, get: (name: string) => string | undefined) {
  const text = get("OTEL_RESOURCE_ATTRIBUTES");
  if (text !== undefined) {
    const attributes = parseResourceAttributes(text);
    if (attributes === undefined) {
      environment.ignored.push(
        `OTEL_RESOURCE_ATTRIBUTES=${JSON.stringify(text)} (expected key=value pairs, ` +
          `comma-separated, values percent-encoded)`,
      );
    } else {
      Object.assign(environment.resource, attributes);
    }
  }
  // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES.
  const serviceName = get("OTEL_SERVICE_NAME");
  if (serviceName !== undefined) environment.resource["service.name"] = serviceName;
}
