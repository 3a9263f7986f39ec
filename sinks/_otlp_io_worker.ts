// An OtlpHandler's requests, in a worker of its own (why: see
// _io_worker.ts). The handler posts finished batch bodies (transferred);
// this sends them with OtlpExporter and posts back each ExportEvent.
import { serveIo } from "./_io_worker.ts";
import { type ExportEvent, type ExportSettings, OtlpExporter } from "./_otlp_export.ts";

/** From the handler to its I/O worker: the settings first, then one message per batch. */
export type OtlpIoRequest =
  | { kind: "setup"; settings: ExportSettings }
  | { kind: "export"; seq: number; count: number; body: Uint8Array<ArrayBuffer> };

let exporter: OtlpExporter | undefined;
const report = serveIo<OtlpIoRequest, ExportEvent>((request) => {
  if (request.kind === "setup") exporter = new OtlpExporter(request.settings, undefined, report);
  else exporter?.export(request.seq, request.count, request.body);
});
