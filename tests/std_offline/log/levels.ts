// Offline stand-in for jsr:@std/log@0.224.14 `levels.ts` (see STD_LOG_API.md).

/** Numeric values of the log levels. */
export const LogLevels = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARN: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const;

/** A level name. */
export type LevelName = Exclude<keyof typeof LogLevels, number>;

/** A numeric level. */
export type LogLevel = typeof LogLevels[LevelName];

/** Every level name, lowest first. */
export const LogLevelNames: LevelName[] = Object.keys(LogLevels) as LevelName[];

// A lookup table, as upstream: getLevelName() runs for every LogRecord, so
// its cost shows in benchmarks run against this stand-in.
const byLevel: Record<string, LevelName> = Object.fromEntries(
  LogLevelNames.map((name) => [String(LogLevels[name]), name]),
);

/** Returns the numeric level for a name; throws for an unknown name. */
export function getLevelByName(name: LevelName): LogLevel {
  if (Object.hasOwn(LogLevels, name)) return LogLevels[name];
  throw new Error(`Cannot get log level: no level named ${name}`);
}

/** Returns the name of a numeric level; throws for an unknown level. */
export function getLevelName(level: LogLevel): LevelName {
  const name = byLevel[level];
  if (name !== undefined) return name;
  throw new Error(`Cannot get log level: no name for level: ${level}`);
}
