// `--json`: the report exactly as `JSON.stringify(report, null, 2)` writes it, in pieces. A month of
// a large cluster is a report of tens of megabytes (every decision, each Node's story); built as
// one string, it outgrew the compiled binary's heap.

/** The text of `JSON.stringify(value, null, 2)` for plain JSON data, an element or a field at a time. */
export function* renderJson(value: unknown, indent = ""): Generator<string> {
  if (value === null || typeof value !== "object") {
    yield JSON.stringify(value) ?? "null";
    return;
  }
  // A decision or a story's step holds no arrays or objects: written whole, indented.
  if (Object.values(value).every((v) => v === null || typeof v !== "object")) {
    yield JSON.stringify(value, null, 2).replaceAll("\n", `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield "[]";
      return;
    }
    yield "[\n";
    for (const [i, v] of value.entries()) {
      yield inner;
      // JSON.stringify writes null for what JSON cannot hold, in an array.
      yield* v === undefined || typeof v === "function" || typeof v === "symbol"
        ? ["null"]
        : renderJson(v, inner);
      yield i < value.length - 1 ? ",\n" : "\n";
    }
    yield `${indent}]`;
    return;
  }
  // ...and leaves such fields out of an object.
  const fields = Object.entries(value).filter(([, v]) =>
    v !== undefined && typeof v !== "function" && typeof v !== "symbol"
  );
  if (fields.length === 0) {
    yield "{}";
    return;
  }
  yield "{\n";
  for (const [i, [k, v]] of fields.entries()) {
    yield `${inner}${JSON.stringify(k)}: `;
    yield* renderJson(v, inner);
    yield i < fields.length - 1 ? ",\n" : "\n";
  }
  yield `${indent}}`;
}

/** Writes `pieces` to `writer` in batches of about 64 KB, then a newline (as console.log ends). */
export async function writePieces(
  pieces: Iterable<string>,
  writer: { write(bytes: Uint8Array): Promise<unknown> },
): Promise<void> {
  const encoder = new TextEncoder();
  let batch = "";
  for (const piece of pieces) {
    batch += piece;
    if (batch.length >= 65_536) {
      await writer.write(encoder.encode(batch));
      batch = "";
    }
  }
  await writer.write(encoder.encode(`${batch}\n`));
}
