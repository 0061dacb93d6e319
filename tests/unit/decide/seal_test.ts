// node-heal's seal over its state on a Node (lib/decide/seal.ts): made with its key over the
// Node's name, uid and every node-heal.io value; what anyone else writes or edits does not verify.
import assert from "node:assert/strict";
import { SEAL, sealPatch, StateSeal } from "../../../lib/decide/seal.ts";
import { ANNOTATIONS, HISTORY, STATE_KEYS } from "../../../lib/decide/node_state.ts";
import type { Node } from "../../../lib/base/node.ts";

const KEY = new Uint8Array(32).fill(7);

function node(name: string, annotations: Record<string, string> = {}, uid = `uid-${name}`): Node {
  return { metadata: { name, uid, resourceVersion: "3", annotations }, spec: {} };
}

/** `node` after a merge patch of its annotations, as the API server applies it. */
function merged(n: Node, annotations: Record<string, string | null>): Node {
  const out = { ...n.metadata.annotations };
  for (const [k, v] of Object.entries(annotations)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return { ...n, metadata: { ...n.metadata, annotations: out } };
}

Deno.test("a sealed patch writes node-heal's whole state and a seal that verifies on the result", () => {
  const seal = new StateSeal(KEY);
  const before = node("w1");
  const patch = sealPatch(before, {
    metadata: {
      resourceVersion: "3",
      annotations: { [ANNOTATIONS.cordonedBy]: "node-heal", [ANNOTATIONS.step]: "cordoned" },
    },
    spec: { unschedulable: true },
  }, seal);
  const written = patch.metadata.annotations!;
  // Every key of node-heal's is in the patch: set, or removed.
  for (const key of STATE_KEYS) assert.ok(Object.hasOwn(written, key), key);
  assert.equal(written[ANNOTATIONS.alerts], null);
  assert.match(written[SEAL]!, /^v1\.[0-9a-f]{64}$/);
  assert.equal(patch.metadata.resourceVersion, "3");
  assert.deepEqual(patch.spec, { unschedulable: true });
  assert.equal(seal.verify(merged(before, written)), true);
});

Deno.test("a seal does not verify once anything is edited, added, copied to another Node or made with another key", () => {
  const seal = new StateSeal(KEY);
  const state = {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [HISTORY.remediatedAt]: '["2026-12-06T10:00:00.000Z"]',
  };
  const patch = sealPatch(node("w1"), { metadata: { annotations: state } }, seal);
  const sealed = merged(node("w1"), patch.metadata.annotations!);
  assert.equal(seal.verify(sealed), true);
  const edits: [string, Node][] = [
    ["a value edited", merged(sealed, { [HISTORY.remediatedAt]: '["2099-01-01T00:00:00Z"]' })],
    ["a key added", merged(sealed, { [ANNOTATIONS.step]: "draining" })],
    ["a key removed", merged(sealed, { [HISTORY.remediatedAt]: null })],
    ["copied to another Node", { ...sealed, metadata: { ...sealed.metadata, name: "w2" } }],
    ["the same name, another object", { ...sealed, metadata: { ...sealed.metadata, uid: "new" } }],
    ["no seal", merged(sealed, { [SEAL]: null })],
    ["a seal not hex", merged(sealed, { [SEAL]: "v1." + "z".repeat(64) })],
  ];
  for (const [what, n] of edits) assert.equal(seal.verify(n), false, what);
  assert.equal(new StateSeal(new Uint8Array(32).fill(8)).verify(sealed), false, "another key");
  // What is not node-heal's state is not sealed: other annotations may change freely.
  assert.equal(seal.verify(merged(sealed, { "node-heal.io/unknown": "x", "other/x": "y" })), true);
});

Deno.test("a patch that clears every value of node-heal's removes its seal too", () => {
  const seal = new StateSeal(KEY);
  const n = node("w1", { [ANNOTATIONS.cordonedBy]: "node-heal" });
  const patch = sealPatch(
    n,
    { metadata: { annotations: { [ANNOTATIONS.cordonedBy]: null } } },
    seal,
  );
  assert.equal(patch.metadata.annotations![SEAL], null);
  assert.throws(() => new StateSeal(new Uint8Array(16)), RangeError);
});

Deno.test("seals kept from lately are the seals the key makes: of the state they seal, and of no other", () => {
  const seal = new StateSeal(KEY);
  const fresh = () => new StateSeal(KEY);
  const state = (i: number) => ({
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: `s${i}`,
  });
  // More states than are kept; each seal is the one a seal with nothing kept makes.
  const seals = Array.from({ length: 300 }, (_, i) => seal.sign({ name: "w", uid: "u" }, state(i)));
  for (let i = 0; i < 300; i += 37) {
    assert.equal(seal.sign({ name: "w", uid: "u" }, state(i)), seals[i]);
    assert.equal(fresh().sign({ name: "w", uid: "u" }, state(i)), seals[i]);
  }
  assert.equal(new Set(seals).size, 300);
  // Another Node, another uid, another key: another seal, kept or not.
  assert.notEqual(seal.sign({ name: "w2", uid: "u" }, state(1)), seals[1]);
  assert.notEqual(seal.sign({ name: "w", uid: "u2" }, state(1)), seals[1]);
  const other = new StateSeal(new Uint8Array(32).fill(8));
  assert.notEqual(other.sign({ name: "w", uid: "u" }, state(1)), seals[1]);
  // What a kept seal verifies, it verifies as a fresh one does.
  const n = node("w", { ...state(299), [SEAL]: seals[299] }, "u");
  assert.equal(seal.verify(n), true);
  assert.equal(fresh().verify(n), true);
  assert.equal(seal.verify(node("w", { ...state(298), [SEAL]: seals[299] }, "u")), false);
});

Deno.test("seals are those node-heal made before, small and large: Nodes sealed before an upgrade still verify", () => {
  // Made by 0.13.0, whose seals node:crypto made every time.
  const seal = new StateSeal(KEY);
  const small = { [ANNOTATIONS.cordonedBy]: "node-heal", [ANNOTATIONS.step]: "cordoned" };
  // Past the length sealed in JavaScript (over 4,096 characters): node:crypto seals it.
  const large = { ...small, [ANNOTATIONS.alerts]: JSON.stringify({ f: "é".repeat(5000) }) };
  const w1 = { name: "w1", uid: "uid-w1" };
  assert.equal(
    seal.sign(w1, small),
    "v1.453c2de94696ce4043e45c99299a153e9a65f982dc982ad9645d911f52403261",
  );
  assert.equal(
    seal.sign(w1, large),
    "v1.a6bbf38f1a60e6360af97663d6e0062e210a9b7d0dc564568db87100ca5d1543",
  );
  assert.ok(seal.verify(node("w1", { ...large, [SEAL]: seal.sign(w1, large) })));
  // Non-ASCII text under the bytes sealed in JavaScript, a lone surrogate, and text past those
  // bytes in fewer characters (1,000 bytes of checkmarks), as 0.13.0 sealed them.
  const pinned: [string, string][] = [
    [
      JSON.stringify({ f: "é✓".repeat(100) }),
      "v1.8c4157ea0eb67a9035ade382da3c753abecfe3376aab90a644004a0e761be413",
    ],
    [
      JSON.stringify({ f: "a\uD800b" }),
      "v1.04d31a02cc4d56d4a5129e62edda1d5ff27ff5ff0af54c23083a4aebb4fcfe86",
    ],
    [
      JSON.stringify({ f: "✓".repeat(330) }),
      "v1.bf1682d7fb50630bafe32c0537549bbb15cc2616807f350c758740295048b645",
    ],
  ];
  for (const [alerts, expected] of pinned) {
    assert.equal(seal.sign(w1, { ...small, [ANNOTATIONS.alerts]: alerts }), expected);
  }
});
