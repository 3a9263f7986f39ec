/**
 * Serves a folder in JSR's registry layout (such as `../shared/jsr`) on 127.0.0.1, so that
 * `JSR_URL=http://127.0.0.1:PORT/` resolves `jsr:` imports from it exactly as from jsr.io.
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read --allow-write tools/serve_registry.ts
 * <folder> [--port-file <path>]`. It listens on a free port, prints `JSR_URL=...` and, with
 * `--port-file`, writes the URL to that file once it is ready to serve. It stops on SIGTERM or
 * SIGINT.
 *
 * @module
 */

const MEDIA_TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".mts": "application/typescript; charset=utf-8",
  ".tsx": "text/tsx; charset=utf-8",
  ".js": "application/javascript; charset=utf-8",
  ".mjs": "application/javascript; charset=utf-8",
  ".jsx": "text/jsx; charset=utf-8",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".wasm": "application/wasm",
};

function mediaType(path: string): string {
  const dot = path.lastIndexOf(".");
  return MEDIA_TYPES[path.slice(dot)] ?? "application/octet-stream";
}

function parseArgs(args: string[]): { root: string; portFile?: string } {
  const [root, ...rest] = args;
  if (!root) {
    throw new Error("Missing the registry folder: pass it as the first argument.");
  }
  const at = rest.indexOf("--port-file");
  return { root: Deno.realPathSync(root), portFile: at >= 0 ? rest[at + 1] : undefined };
}

/** Maps a URL path to a file under the root, refusing anything that leaves it. */
function fileFor(root: string, pathname: string): string | undefined {
  const decoded = decodeURIComponent(pathname);
  if (decoded.split("/").some((part) => part === ".." || part.includes("\0"))) return undefined;
  return root + decoded;
}

async function serveFile(root: string, request: Request): Promise<Response> {
  const path = fileFor(root, new URL(request.url).pathname);
  if (!path) return new Response("bad path\n", { status: 400 });
  try {
    const body = await Deno.readFile(path);
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": mediaType(path), "content-length": String(body.length) },
    });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
}

if (import.meta.main) {
  const { root, portFile } = parseArgs(Deno.args);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => serveFile(root, request),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  if (portFile) await Deno.writeTextFile(portFile, url);
  console.log(`JSR_URL=${url}`);
  const stop = () => server.shutdown();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await server.finished;
}
