import assert from "node:assert/strict";
import fc from "fast-check";
import { parseNotification } from "../../../lib/intake/alertmanager.ts";
import { fastPayload } from "../../../lib/intake/payload_fast.ts";
import { LIMITS, payloadSchema } from "../../../lib/intake/payload_schema.ts";

/**
 * Strings around a limit in UTF-16 code units, some ending in a surrogate pair (zod counts code
 * points: such a string may be within the limit for zod and over it in units).
 */
function nearLimit(max: number): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: -2, max: 2 }), fc.boolean()).map(([d, astral]) =>
    astral ? `${"x".repeat(max + d - 2)}\u{1F600}` : "y".repeat(max + d)
  );
}

/** Mostly short ordinary strings, sometimes ones at the edge of `max`. */
function text(max: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
    { weight: 1, arbitrary: nearLimit(max) },
  );
}

const key = fc.oneof(
  { weight: 40, arbitrary: fc.string({ maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "0", "10", "-1", ""),
  },
  { weight: 1, arbitrary: nearLimit(LIMITS.labelName) },
);

/** A map of strings: usually within its limits, sometimes one entry past them. */
function stringMap(maxValue: number, maxEntries: number): fc.Arbitrary<Record<string, string>> {
  const entries = fc.oneof(
    { weight: 20, arbitrary: fc.array(fc.tuple(key, text(maxValue)), { maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: maxEntries - 1, max: maxEntries + 1 }).map((n) =>
        Array.from({ length: n }, (_, i) => [`k${i}`, "v"] as [string, string])
      ),
    },
  );
  return entries.map((e) => Object.fromEntries(e));
}

const status = fc.constantFrom("firing", "resolved");
const fingerprint = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
  fc.string({ unit: "binary-ascii", maxLength: 20 }),
  nearLimit(LIMITS.fingerprint),
);

const alert = fc.record({
  status,
  labels: stringMap(LIMITS.labelValue, LIMITS.labels),
  annotations: stringMap(LIMITS.annotationValue, LIMITS.annotations),
  startsAt: text(LIMITS.time),
  endsAt: text(LIMITS.time),
  generatorURL: text(LIMITS.url),
  fingerprint,
  extra: fc.jsonValue({ maxDepth: 2 }),
}, { requiredKeys: ["status", "labels"] });

const wellFormed = fc.record({
  version: fc.constant("4"),
  receiver: text(LIMITS.receiver),
  status,
  alerts: fc.array(alert, { maxLength: 3 }),
  groupLabels: stringMap(LIMITS.labelValue, LIMITS.labels),
  commonLabels: stringMap(LIMITS.labelValue, LIMITS.labels),
  commonAnnotations: stringMap(LIMITS.annotationValue, LIMITS.annotations),
  externalURL: text(LIMITS.url),
  groupKey: text(LIMITS.groupKey),
  truncatedAlerts: fc.oneof(
    { weight: 6, arbitrary: fc.nat() },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(-0)) },
  ),
  extra: fc.jsonValue({ maxDepth: 2 }),
}, { requiredKeys: ["version", "status", "alerts"] });

/** A value that is not what a field expects. */
const wrong = fc.oneof(
  fc.constantFrom(undefined, null, 4, "4", -1, 2 ** 53, NaN, Infinity, true, [], {}, [{}]),
  fc.jsonValue({ maxDepth: 2 }),
  fc.anything({ maxDepth: 1 }),
);

/** A well-formed payload with one field, somewhere, replaced by something else. */
const nearWellFormed = fc.tuple(wellFormed, fc.nat(), fc.string({ maxLength: 14 }), wrong).map(
  ([payload, at, name, value]) => {
    const objects: Record<string, unknown>[] = [payload];
    for (const a of payload.alerts as Record<string, unknown>[]) objects.push(a, a.labels as never);
    const target = objects[at % objects.length];
    const fields = Object.keys(target);
    const field = at % 3 === 0 ? name : fields[at % fields.length] ?? name;
    Object.defineProperty(target, field, { value, enumerable: true, writable: true });
    return payload;
  },
);

const bodies = fc.oneof(
  wellFormed,
  nearWellFormed,
  wellFormed.map((p) => JSON.parse(JSON.stringify(p))),
  nearWellFormed.map((p) => JSON.parse(JSON.stringify(p) ?? "null")),
  fc.anything(),
);

Deno.test("fastPayload() either declines a body or reads it exactly as the zod schema does", () => {
  fc.assert(
    fc.property(bodies, (body) => {
      const fast = fastPayload(body);
      if (fast === undefined) return;
      const result = payloadSchema.safeParse(body);
      assert.ok(result.success, "the fast path accepted a body zod refuses");
      assert.deepStrictEqual(fast, result.data);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("fastPayload() reads a well-formed notification without zod", () => {
  // zod counts a string's length in code points: one past a limit in UTF-16 units but not in code
  // points (an emoji near the end) is zod's to accept, so such bodies are left out here.
  const ordinary = wellFormed.map((p) => JSON.parse(JSON.stringify(p))).filter((p) =>
    payloadSchema.safeParse(p).success && !/[\u{10000}-\u{10FFFF}]/u.test(JSON.stringify(p)) &&
    !JSON.stringify(p).includes('"__proto__"')
  );
  fc.assert(fc.property(ordinary, (body) => fastPayload(body) !== undefined), { numRuns: 500 });
});

Deno.test("parseNotification() answers the same whether or not the fast path reads the body", async () => {
  await fc.assert(
    fc.asyncProperty(bodies, async (body) => {
      if (fastPayload(body) === undefined) return;
      // The same fields on an object whose prototype is not Object's: the fast path declines it.
      const viaZod = Object.setPrototypeOf({ ...body as object }, Object.create(Object.prototype));
      assert.deepStrictEqual(await parseNotification(body), await parseNotification(viaZod));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("fastPayload() declines __proto__ keys, symbol keys and maps one entry past the limit", () => {
  const labels = (extra: object) => ({ version: "4", status: "firing", alerts: [extra] });
  const proto = JSON.parse('{"status":"firing","labels":{"__proto__":"x","a":"b"}}');
  assert.equal(fastPayload(labels(proto)), undefined);
  assert.equal(fastPayload(labels({ status: "firing", labels: { [Symbol()]: "x" } })), undefined);
  const many = Object.fromEntries(Array.from({ length: LIMITS.labels + 1 }, (_, i) => [i, "v"]));
  assert.equal(fastPayload(labels({ status: "firing", labels: many })), undefined);
  assert.equal(
    fastPayload(labels({ status: "firing", labels: {}, fingerprint: "a b" })),
    undefined,
  );
  assert.ok(fastPayload(labels({ status: "firing", labels: {}, fingerprint: "ab", x: 1 })));
});
