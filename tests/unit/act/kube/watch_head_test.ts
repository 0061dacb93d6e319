import assert from "node:assert/strict";
import fc from "fast-check";
import { WATCH_HEAD_BYTES, watchHead } from "../../../../lib/act/kube/watch_head.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** An event as the API server writes one: kind, apiVersion, then metadata with name and version first. */
function event(type: string, metadata: Record<string, unknown>, more = {}): string {
  return JSON.stringify({
    type,
    object: { kind: "Node", apiVersion: "v1", metadata, spec: { unschedulable: true }, ...more },
  });
}

Deno.test("the head of an event as the API server writes it: its type, name and resourceVersion", () => {
  const line = event("MODIFIED", {
    name: "worker-1",
    uid: "4aa27f36-b3ca-485e-8cf2-5186861ab9ae",
    resourceVersion: "1796633567330",
    creationTimestamp: "2026-12-07T07:52:47Z",
    labels: { a: "b" },
  });
  assert.deepEqual(watchHead(bytes(line)), {
    type: "MODIFIED",
    name: "worker-1",
    resourceVersion: "1796633567330",
  });
  // Whitespace between tokens is JSON too.
  const spaced = line.replaceAll(":", " :\n ").replaceAll(",", "\t, ");
  assert.deepEqual(watchHead(bytes(spaced)), watchHead(bytes(line)));
});

Deno.test("an event laid out otherwise gives no head, and is parsed whole", () => {
  const cases: Record<string, string> = {
    "labels before the version": event("MODIFIED", { name: "w", labels: {}, resourceVersion: "1" }),
    "the object before the type": JSON.stringify({
      object: { metadata: { name: "w", resourceVersion: "1" } },
      type: "MODIFIED",
    }),
    "a nested value before metadata": JSON.stringify({
      type: "MODIFIED",
      object: { spec: {}, metadata: { name: "w", resourceVersion: "1" } },
    }),
    "an escape in the name": event("MODIFIED", { name: 'w\\"x', resourceVersion: "1" }),
    "a non-ASCII name": event("MODIFIED", { name: "wörker", resourceVersion: "1" }),
    "an escaped key that reads as name":
      '{"type":"MODIFIED","object":{"metadata":{"n\\u0061me":"w","name":"v","resourceVersion":"1"}}}',
    "the name twice":
      '{"type":"MODIFIED","object":{"metadata":{"name":"w","name":"v","resourceVersion":"1"}}}',
    "the type twice":
      '{"type":"ADDED","type":"MODIFIED","object":{"metadata":{"name":"w","resourceVersion":"1"}}}',
    "no version": event("MODIFIED", { name: "w" }),
    "a version past the bytes looked at": event("MODIFIED", {
      name: "w",
      generateName: "g".repeat(WATCH_HEAD_BYTES),
      resourceVersion: "1",
    }),
    "not an object": '["MODIFIED"]',
    "cut short": event("MODIFIED", { name: "w", resourceVersion: "1" }).slice(0, 60),
  };
  for (const [what, line] of Object.entries(cases)) {
    assert.equal(watchHead(bytes(line)), undefined, what);
  }
});

/** A key written with an escape, which parses as `name`. */
const ESCAPED_NAME = '"n\\u0061me"';

Deno.test("whatever the event, a head read is what parsing the whole event reads", () => {
  const value = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.integer(),
    fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  );
  // Each key of the metadata once, as the API server writes it (the escaped one reads as `name`):
  // a key twice before both are read gives no head (the fixed cases above); after, it is not read.
  const meta = fc.uniqueArray(
    fc.tuple(
      fc.constantFrom("name", "resourceVersion", "uid", "labels", "n", "name ", ESCAPED_NAME),
      value,
    ),
    { maxLength: 6, selector: ([k]) => k === ESCAPED_NAME ? "name" : k },
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom("type", "other"),
          fc.constantFrom("ADDED", "MODIFIED", "DELETED", 'MOD"IFIED', "é"),
        ),
        { maxLength: 3 },
      ),
      fc.array(fc.tuple(fc.constantFrom("kind", "apiVersion", "spec"), value), { maxLength: 3 }),
      meta,
      (top, before, fields) => {
        // Keys in the order drawn (a duplicate of the event's own keys written as drawn).
        const members = (pairs: [string, unknown][]) =>
          pairs.map(([k, v]) =>
            `${k === ESCAPED_NAME ? ESCAPED_NAME : JSON.stringify(k)}:${JSON.stringify(v)},`
          ).join("");
        const line = `{${members(top)}"object":{${members(before)}"metadata":{${
          members(fields).slice(0, -1)
        }}}}`;
        const head = watchHead(bytes(line));
        if (!head) return;
        const parsed = JSON.parse(line);
        assert.equal(head.type, parsed.type);
        assert.equal(head.name, parsed.object.metadata.name);
        assert.equal(head.resourceVersion, parsed.object.metadata.resourceVersion);
      },
    ),
    { numRuns: 2000 },
  );
});
