// Offline stand-in for jsr:@std/log@0.224.14 `mod.ts` (see STD_LOG_API.md).
// The order matters: base_handler.ts comes first, so TypeScript resolves
// `LogRecord` through this module to its type-only re-export, as upstream.
export * from "./base_handler.ts";
export * from "./console_handler.ts";
export * from "./file_handler.ts";
export * from "./rotating_file_handler.ts";
export * from "./levels.ts";
export * from "./logger.ts";
export * from "./formatters.ts";
export * from "./critical.ts";
export * from "./debug.ts";
export * from "./error.ts";
export * from "./get_logger.ts";
export * from "./info.ts";
export * from "./setup.ts";
export * from "./warn.ts";
