import { type LevelName, type LoggerConfig, LogLevelNames } from "@std/log";
import { InvalidOptionError } from "../errors.ts";

/** Throws an InvalidOptionError listing the valid names unless `value` is a level name. */
export function checkLevel(option: string, value: unknown): LevelName {
  if (typeof value !== "string" || !(LogLevelNames as string[]).includes(value)) {
    throw new InvalidOptionError(option, value, `one of ${LogLevelNames.join(", ")}`);
  }
  return value as LevelName;
}

/** Checks a `loggers` option: names to `{ level? }`. */
export function checkLoggers(
  loggers: unknown,
): Record<string, Pick<LoggerConfig, "level">> {
  if (typeof loggers !== "object" || loggers === null || Array.isArray(loggers)) {
    throw new InvalidOptionError(
      "loggers",
      loggers,
      `an object of logger names, e.g. { app: { level: "DEBUG" } }`,
    );
  }
  for (const [name, config] of Object.entries(loggers)) {
    if (typeof config !== "object" || config === null) {
      throw new InvalidOptionError(
        `loggers.${name}`,
        config,
        `an object such as { level: "INFO" }`,
      );
    }
    const level = (config as LoggerConfig).level;
    if (level !== undefined) checkLevel(`loggers.${name}.level`, level);
  }
  return loggers as Record<string, Pick<LoggerConfig, "level">>;
}
