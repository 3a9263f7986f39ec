/**
 * Records as OTLP/JSON: the protobuf JSON mapping of ExportLogsServiceRequest
 * (opentelemetry-proto, logs/v1), written straight to JSON text. 64-bit
 * integers are decimal strings, enums integers, field names lowerCamelCase,
 * as the OTLP specification's JSON encoding asks.
 *
 * Each record is encoded once, when the handler takes it, so the queue can
 * count its size and a batch is written as UTF-8 bytes, once.
 *
 * @module
 */

import { LogLevels, type LogRecord } from "@std/log";
import { captureArgs } from "../common/_capture.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import { timeOf, workerOf } from "../formatters/_fields.ts";

/**
 * A resource or attribute value as the handler's options accept it.
 *
 * @example
 * ```ts
 * import type { AttributeValue } from "@workerlog/workerlog";
 *
 * const resource: Record<string, AttributeValue> = { "deployment.environment": "prod", shard: 3 };
 * ```
 */
export type AttributeValue = string | number | boolean;

/** The instrumentation scope every record is sent under. */
export const SCOPE_NAME = "workerlog";

// OTel's SeverityNumber for each @std/log level: the first number of the
// matching range (DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24).
const SEVERITY_NUMBERS: Record<number, number> = {
  [LogLevels.DEBUG]: 5,
  [LogLevels.INFO]: 9,
  [LogLevels.WARN]: 13,
  [LogLevels.ERROR]: 17,
  [LogLevels.CRITICAL]: 21,
};

/** The OTel SeverityNumber of an @std/log level; 0 (unspecified) for others. */
export function severityNumberOf(level: number): number {
  return SEVERITY_NUMBERS[level] ?? 0;
}

const LEVEL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(LogLevels).map(([name, level]) => [level, name]),
);

const severityFragments = new Map<number, { name: string; fragment: string }>();

// `"severityNumber":9,"severityText":"INFO"`, built once per level.
function severityFragment(level: number, levelName: string): string {
  const cached = severityFragments.get(level);
  if (cached !== undefined && cached.name === levelName) return cached.fragment;
  const fragment = `"severityNumber":${severityNumberOf(level)},"severityText":${
    JSON.stringify(levelName)
  }`;
  severityFragments.set(level, { name: levelName, fragment });
  return fragment;
}

/**
 * Epoch milliseconds as a decimal string of nanoseconds, exactly: `ms * 1e6`
 * in floating point is wrong in the last digits for today's times (about
 * 1.8e18 is above 2^53), so the digits are put together as text. Invalid or
 * negative times become "0", which OTLP reads as "unknown".
 */
export function unixNanos(ms: number): string {
  if (!(ms > 0) || !Number.isFinite(ms)) return "0";
  if (Number.isInteger(ms)) return `${ms}000000`;
  let whole = Math.floor(ms);
  let nanos = Math.round((ms - whole) * 1e6);
  if (nanos === 1e6) {
    whole++;
    nanos = 0;
  }
  return whole === 0 ? String(nanos) : `${whole}${String(nanos).padStart(6, "0")}`;
}

let lastObservedMs = NaN;
let lastObserved = "";

// Records come in bursts within one millisecond: keep the last conversion.
function observedNanos(ms: number): string {
  if (ms !== lastObservedMs) {
    lastObservedMs = ms;
    lastObserved = unixNanos(ms);
  }
  return lastObserved;
}

// A string as JSON whose text is valid UTF-8. JSON.stringify writes a lone
// surrogate as an escape ("\ud800") that stands for no UTF-8 text, and proto3
// strings must be UTF-8: a strict collector rejects the whole batch. So lone
// surrogates become U+FFFD; the check first keeps the usual case to one scan.
function jsonString(text: string): string {
  return JSON.stringify(text.isWellFormed() ? text : text.toWellFormed());
}

/**
 * Any JSON-safe value as an OTLP AnyValue in JSON: strings, booleans, safe
 * integers (intValue, a decimal string), other numbers (doubleValue),
 * arrays (arrayValue) and objects (kvlistValue). null is the empty AnyValue.
 */
export function anyValueJson(value: unknown): string {
  // Plain loops and concatenation: this runs for every arg of every record.
  switch (typeof value) {
    case "string":
      return '{"stringValue":' + jsonString(value) + "}";
    case "boolean":
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    case "number":
      if (Number.isSafeInteger(value)) return '{"intValue":"' + value + '"}';
      // proto3 JSON writes the non-finite doubles as these strings.
      return Number.isFinite(value)
        ? '{"doubleValue":' + value + "}"
        : `{"doubleValue":"${value > 0 ? "Infinity" : value < 0 ? "-Infinity" : "NaN"}"}`;
    case "object": {
      if (value === null) return "{}";
      if (Array.isArray(value)) {
        let json = '{"arrayValue":{"values":[';
        for (let i = 0; i < value.length; i++) {
          json += (i === 0 ? "" : ",") + anyValueJson(value[i]);
        }
        return json + "]}}";
      }
      let json = '{"kvlistValue":{"values":[';
      let first = true;
      for (const key of Object.keys(value)) {
        json += (first ? "" : ",") + keyValueJson(key, (value as Record<string, unknown>)[key]);
        first = false;
      }
      return json + "]}}";
    }
    default:
      // Not JSON-safe data (only standalone records can carry it, and those
      // go through captureArgs first): say what it was rather than lose it.
      return '{"stringValue":' + jsonString(String(value)) + "}";
  }
}

/** One OTLP KeyValue in JSON. */
export function keyValueJson(key: string, value: unknown): string {
  return '{"key":' + jsonString(key) + ',"value":' + anyValueJson(value) + "}";
}

// Fragments for the attributes that repeat on every record of a logger or
// worker, so each name is escaped once. One map per attribute key, so the
// lookup needs no composed string.
const loggerFragments = new Map<string, string>();
const workerFragments = new Map<string, string>();

function cachedKeyValue(cache: Map<string, string>, key: string, value: string): string {
  let fragment = cache.get(value);
  if (fragment === undefined) {
    if (cache.size > 4_096) cache.clear();
    fragment = keyValueJson(key, value);
    cache.set(value, fragment);
  }
  return fragment;
}

/**
 * One record as an OTLP LogRecord in JSON. `observedMs` is when the handler
 * took it; `timeUnixNano` is when it was logged (in its worker). The
 * attributes are `logger`, `worker`, `worker.index` and `seq` where the
 * record has them, and `args` (an arrayValue) when there are any.
 */
export function logRecordJson(record: LogRecord, observedMs: number): string {
  const isWorkerRecord = record instanceof WorkerLogRecord;
  let attributes = cachedKeyValue(loggerFragments, "logger", record.loggerName) + "," +
    cachedKeyValue(workerFragments, "worker", workerOf(record));
  if (isWorkerRecord) {
    if (record.workerIndex !== undefined) {
      attributes += `,{"key":"worker.index","value":{"intValue":"${record.workerIndex}"}}`;
    }
    attributes += `,{"key":"seq","value":{"intValue":"${record.seq}"}}`;
  }
  // A listener's records carry JSON-safe args already; others may hold anything.
  const args = isWorkerRecord ? record.args : captureArgs(record.args);
  if (args.length > 0) attributes += `,{"key":"args","value":${anyValueJson(args)}}`;
  return `{"timeUnixNano":"${unixNanos(timeOf(record))}","observedTimeUnixNano":"${
    observedNanos(observedMs)
  }",${severityFragment(record.level, record.levelName)},"body":{"stringValue":${
    jsonString(String(record.msg))
  }},"attributes":[${attributes}]}`;
}

/**
 * A line without its record: the body, and the severity of `level` when it
 * is known (`logLine()`), else unspecified (`log()`).
 */
export function bareLineJson(line: string, observedMs: number, level?: number): string {
  const observed = observedNanos(observedMs);
  const severity = level === undefined
    ? `"severityNumber":0`
    : severityFragment(level, LEVEL_NAMES[level] ?? `Level ${level}`);
  return `{"timeUnixNano":"${observed}","observedTimeUnixNano":"${observed}",` +
    `${severity},"body":{"stringValue":${jsonString(line)}}}`;
}

/** The Resource in JSON, from its attributes. */
export function resourceJson(attributes: Record<string, AttributeValue>): string {
  return `{"attributes":[${
    Object.entries(attributes).map(([key, value]) => keyValueJson(key, value))
  }]}`;
}

/**
 * The request body around the records: one ResourceLogs with one ScopeLogs
 * ("workerlog"); the records' JSON, comma-separated, goes between `head`
 * and `tail`.
 */
export function exportRequestEnvelope(resource: string): { head: string; tail: string } {
  return {
    head:
      `{"resourceLogs":[{"resource":${resource},"scopeLogs":[{"scope":{"name":"${SCOPE_NAME}"},` +
      `"logRecords":[`,
    tail: "]}]}]}",
  };
}
