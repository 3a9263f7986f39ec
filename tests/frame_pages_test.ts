// A socket sender keeps its unacknowledged batches encoded in reusable
// pages (sender/_frame_pages.ts): every kept frame must still decode to its
// batch however pages are filled, released, reused and retired.
import { assert, assertEquals, assertNotStrictEquals, assertStrictEquals } from "@std/assert";
import { decodeFrame, FrameEncoder, HEADER_BYTES } from "../common/_frames.ts";
import type { LineBatch, RecordBatch } from "../common/_wire.ts";
import { BatchBuilder } from "../sender/_batch_builder.ts";
import { FramePages, type StoredFrame } from "../sender/_frame_pages.ts";

const PAGE = 4096;

/** A batch of `count` records from seq `seq`, with args on every third. */
function records(seq: number, count: number, text = "record"): RecordBatch {
  const builder = new BatchBuilder(count);
  for (let i = 0; i < count; i++) {
    builder.addRecord(
      seq + i,
      {
        msg: `${text} ${seq + i} é😀`,
        args: i % 3 === 0 ? [{ i: seq + i }] : [],
        level: 20,
        loggerName: i % 2 ? "db" : "app",
        datetime: new Date(1_700_000_000_000 + seq + i),
      } as never,
    );
  }
  return builder.take().batch as RecordBatch;
}

function lines(seq: number, count: number): LineBatch {
  const builder = new BatchBuilder(count);
  for (let i = 0; i < count; i++) builder.addLine(seq + i, 20, `line ${seq + i}`);
  return builder.take().batch as LineBatch;
}

/** Decodes a stored frame: one whole frame, nothing before or after it. */
function decoded(frame: StoredFrame) {
  const { bytes } = frame;
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  assertEquals(length + 4, bytes.length, "the frame's length is its own");
  return decodeFrame(bytes[4], bytes.subarray(HEADER_BYTES));
}

function assertKeeps(frame: StoredFrame, batch: RecordBatch | LineBatch) {
  const decodedFrame = decoded(frame) as { batch: RecordBatch | LineBatch };
  assertEquals(
    { ...decodedFrame.batch, levels: [...decodedFrame.batch.levels] },
    { ...batch, levels: [...batch.levels] },
  );
}

Deno.test("frame pages: frames go end to end on a page, and each decodes to its batch", () => {
  const pages = new FramePages(new FrameEncoder(), PAGE);
  const batches = [records(0, 5), lines(5, 7), records(12, 3)];
  const frames = batches.map((batch) => pages.store(batch, Infinity)!);
  for (let i = 1; i < frames.length; i++) {
    assertStrictEquals(frames[i].page, frames[0].page);
    assertEquals(
      frames[i].bytes.byteOffset,
      frames[i - 1].bytes.byteOffset + frames[i - 1].bytes.length,
    );
  }
  frames.forEach((frame, i) => assertKeeps(frame, batches[i]));
  // The same bytes as a frame encoded on its own.
  assertEquals(frames[1].bytes, new FrameEncoder().batch(batches[1]));
});

Deno.test("frame pages: a released page is reused; frames not yet released are never overwritten", () => {
  const pages = new FramePages(new FrameEncoder(), PAGE);
  const kept: { frame: StoredFrame; batch: RecordBatch }[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let seq = 0;
  // Store 200 batches, releasing the oldest whenever 6 are kept, as acks do.
  for (let n = 0; n < 200; n++) {
    const batch = records(seq, 4, "x".repeat(n % 50));
    seq += 4;
    const frame = pages.store(batch, Infinity)!;
    buffers.add(frame.bytes.buffer);
    kept.push({ frame, batch });
    if (kept.length > 6) pages.release(kept.shift()!.frame);
    for (const one of kept) {
      const { batch } = decoded(one.frame) as { batch: RecordBatch };
      assertEquals([batch.seq, batch.text], [one.batch.seq, one.batch.text]);
    }
  }
  for (const one of kept) assertKeeps(one.frame, one.batch);
  // 200 frames of 150-250 bytes: several pages' worth, in a few reused pages.
  assert(buffers.size <= 3, `${buffers.size} pages were allocated`);
});

Deno.test("frame pages: a frame larger than a page gets its own buffer; one over maxBytes is refused", () => {
  const pages = new FramePages(new FrameEncoder(), PAGE);
  const small = pages.store(records(0, 2), Infinity)!;
  const bigBatch = records(2, 200);
  const big = pages.store(bigBatch, Infinity)!;
  assertEquals(big.page, undefined);
  assert(big.bytes.length > PAGE);
  assertKeeps(big, bigBatch);
  assertKeeps(small, records(0, 2));
  assertEquals(pages.store(records(202, 200), PAGE), undefined);
  assertEquals(pages.store(records(202, 1), 10), undefined);
  // The page goes on after the refused frames, right after the small one.
  const next = pages.store(records(202, 1), Infinity)!;
  assertStrictEquals(next.page, small.page);
  assertEquals(next.bytes.byteOffset, small.bytes.byteOffset + small.bytes.length);
});

Deno.test("frame pages: a frame refused for maxBytes leaves the current page current", () => {
  const pages = new FramePages(new FrameEncoder(), PAGE);
  // Two batches of a little over half a page: the second fits only a fresh page.
  let count = 1;
  while (new FrameEncoder().batch(records(0, count)).length < PAGE * 0.55) count++;
  const first = pages.store(records(0, count), Infinity)!;
  assertEquals(pages.store(records(count, count), PAGE / 2), undefined);
  const after = pages.store(records(2 * count, 1), Infinity)!;
  assertStrictEquals(after.page, first.page, "the refused frame took no page");
  assertEquals(after.bytes.byteOffset, first.bytes.length);
});

Deno.test("frame pages: after retire() no page in use before is reused", () => {
  const pages = new FramePages(new FrameEncoder(), PAGE);
  const before = pages.store(records(0, 3), Infinity)!;
  pages.retire();
  const after = pages.store(records(3, 3), Infinity)!;
  assertNotStrictEquals(after.page, before.page);
  pages.release(before);
  // The old page, though empty now, is not taken again, over several pages' worth.
  for (let i = 0; i < 100; i++) {
    const frame = pages.store(records(6 + i, 1), Infinity)!;
    assertNotStrictEquals(frame.page, before.page);
    pages.release(frame);
  }
  assertKeeps(after, records(3, 3));
});
