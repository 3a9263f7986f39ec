import type { BaseHandler } from "@std/log";

/** Names a handler for error messages: its class, and its file when it has one. */
export function describeHandler(handler: BaseHandler): string {
  const file = fileOf(handler);
  const kind = handler.constructor.name || "handler";
  return file === undefined ? kind : `${kind} (${file})`;
}

function fileOf(handler: BaseHandler): string | undefined {
  const own = (handler as { filename?: unknown }).filename;
  if (typeof own === "string") return own;
  // @std/log's FileHandler keeps its path under a package-private symbol;
  // reading it by description is the only way to name the file in a message.
  for (const symbol of Object.getOwnPropertySymbols(handler)) {
    if (symbol.description !== "filename") continue;
    const value = (handler as unknown as Record<symbol, unknown>)[symbol];
    if (typeof value === "string") return value;
  }
  return undefined;
}
