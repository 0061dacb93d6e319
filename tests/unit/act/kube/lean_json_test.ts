import assert from "node:assert/strict";
import fc from "fast-check";
import { parseLean } from "../../../../lib/act/kube/lean_json.ts";

/** `value` with every array member named managedFields or images emptied: what parseLean reads. */
function emptied(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(emptied);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      (k === "images" || k === "managedFields") && Array.isArray(v) ? [] : emptied(v),
    ]),
  );
}

Deno.test("a Node is read without its images and managedFields; every other field as JSON.parse reads it", () => {
  const node = {
    kind: "Node",
    metadata: {
      name: "w",
      annotations: { note: 'x,"images":[1,2] and {"managedFields":[', images: "a string" },
      managedFields: [{ manager: "kubelet", fieldsV1: { "f:status": { "f:images": {} } } }],
      labels: { "a": "]}" },
    },
    spec: { taints: [{ key: "k", effect: "NoSchedule" }] },
    status: {
      images: [{ names: ['quay.io/x:"]\\', "y"], sizeBytes: 12 }, { names: ["z[{"] }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
  const text = JSON.stringify(node);
  assert.deepEqual(parseLean(text), emptied(node));
  assert.deepEqual((parseLean(text) as typeof node).status.images, []);
  assert.equal((parseLean(text) as typeof node).metadata.annotations.images, "a string");
  // Laid out otherwise (spaces after colons), nothing is emptied: it is parsed as it is.
  const spaced = JSON.stringify(node, null, 1);
  assert.deepEqual(parseLean(spaced), node);
});

Deno.test("text that is not JSON is refused as JSON.parse refuses it", () => {
  for (const text of ['{"images":[1,2', '{"images":["a]"', '{"a":1', "", '{"images":[}']) {
    assert.throws(() => parseLean(text), SyntaxError, text);
  }
});

Deno.test("whatever the JSON, parseLean reads what JSON.parse reads with the unread arrays emptied", () => {
  const tricky = fc.constantFrom(
    '"images":[',
    ',"images":[',
    '{"managedFields":[',
    "\\",
    '\\"',
    "]",
    "}",
    "[",
  );
  const text = fc.oneof(fc.string(), tricky, fc.string({ unit: "grapheme" }));
  // Keys whose text ends as an unread member's does: a quote escaped within a key.
  const key = fc.oneof(
    fc.constantFrom("images", "managedFields", "names", 'a"images', '\\"images', 'x,"images'),
    fc.string(),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      text,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie("value")), { maxLength: 4 }).map((pairs) =>
        Object.fromEntries(pairs)
      ),
    ),
  }));
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(parseLean(JSON.stringify(v)), emptied(JSON.parse(JSON.stringify(v))));
    }),
    { numRuns: 3000 },
  );
});
