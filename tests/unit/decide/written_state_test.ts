// What node-heal writes on a Node, its own reader takes back whole (lib/decide/state_schema.ts):
// the largest states node-heal can write from anything the webhook accepts (intake's LIMITS) read
// back without a problem. Once, an empty alert name, or names and fingerprints whose JSON escapes
// passed the reader's size bound, were written and then dropped on reading back: a Node left
// cordoned with no hold to release it, or with fewer holds than alerts firing.
import assert from "node:assert/strict";
import fc from "fast-check";
import { alertName } from "../../../lib/decide/decision.ts";
import {
  holdsAnnotations,
  MAX_HOLDS,
  MAX_OVERFLOW,
  MAX_RESOLVED,
  type NodeState,
  readState,
  withResolution,
} from "../../../lib/decide/node_state.ts";
import { HISTORY } from "../../../lib/decide/state_keys.ts";
import { cleanAnnotations } from "../../../lib/decide/state_schema.ts";
import { LIMITS } from "../../../lib/intake/payload_schema.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-07T12:00:00Z");
const EMPTY: NodeState = readState({ metadata: { name: "w1" }, spec: {} } as Node);

function named(alertname: string): Alert {
  return { labels: { alertname } } as unknown as Alert;
}

/** The annotations node-heal writes for these holds, overflow and resolutions. */
function written(
  holds: [string, string][],
  overflow: string[],
  resolutions: [string, string][],
): Record<string, string> {
  const at = NOW.toISOString();
  const annotations: Record<string, string> = {};
  const patch = holdsAnnotations(
    EMPTY,
    Object.fromEntries(holds.map(([fp, name]) => [fp, {
      alertname: alertName(named(name)),
      since: at,
      seen: at,
    }])),
    overflow.length > 0 ? { seen: at, fingerprints: overflow, unlisted: true } : undefined,
  );
  for (const [k, v] of Object.entries(patch)) if (v !== null) annotations[k] = v;
  let resolved = EMPTY.resolved;
  for (const [fingerprint, startsAt] of resolutions) {
    const raw = withResolution({ ...EMPTY, resolved }, { fingerprint, startsAt, now: NOW });
    annotations[HISTORY.resolved] = raw;
    resolved = JSON.parse(raw);
  }
  return annotations;
}

function problems(annotations: Record<string, string>) {
  return cleanAnnotations(annotations, { now: NOW.getTime() }).problems;
}

/** A fingerprint the webhook takes: printable ASCII, `"` and `\` the most JSON escapes. */
function worstFingerprint(i: number): string {
  return `${i}`.padStart(LIMITS.fingerprint, i % 2 ? '"' : "\\");
}

Deno.test("the largest state node-heal can write reads back whole", () => {
  const holds: [string, string][] = Array.from(
    { length: MAX_HOLDS },
    (_, i) => [worstFingerprint(i), '"'.repeat(LIMITS.labelValue)],
  );
  const overflow = Array.from({ length: MAX_OVERFLOW }, (_, i) => worstFingerprint(1000 + i));
  const resolutions: [string, string][] = Array.from(
    { length: MAX_RESOLVED },
    (_, i) => [worstFingerprint(2000 + i), "\u0001".repeat(LIMITS.time)],
  );
  const annotations = written(holds, overflow, resolutions);
  assert.deepEqual(problems(annotations), []);
  const state = readState({ metadata: { name: "w1", annotations }, spec: {} } as Node);
  assert.equal(Object.keys(state.holds).length, MAX_HOLDS);
  assert.equal(state.overflow?.fingerprints.length, MAX_OVERFLOW);
  assert.equal(Object.keys(state.resolved).length, MAX_RESOLVED);
  // Control characters and escapes in names too.
  assert.deepEqual(problems(written([["a", "\u0000".repeat(LIMITS.labelValue)]], [], [])), []);
});

Deno.test("whatever names, fingerprints and times the webhook takes, what node-heal writes reads back", () => {
  const fingerprint = fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: LIMITS.fingerprint,
  });
  const text = (max: number) =>
    fc.oneof(fc.constant(""), fc.string({ unit: "binary", maxLength: max }));
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(fingerprint, text(LIMITS.labelValue)), {
        maxLength: MAX_HOLDS,
        selector: ([fp]) => fp,
      }),
      fc.uniqueArray(fingerprint, { maxLength: MAX_OVERFLOW }),
      fc.uniqueArray(fc.tuple(fingerprint, text(LIMITS.time)), {
        maxLength: MAX_RESOLVED,
        selector: ([fp]) => fp,
      }),
      (holds, overflow, resolutions) => {
        assert.deepEqual(problems(written(holds, overflow, resolutions)), []);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("an alert's name as written: never empty, no control characters, well formed, bounded", () => {
  assert.equal(alertName(named("")), "unnamed");
  assert.equal(alertName({ labels: {} } as unknown as Alert), "unnamed");
  assert.equal(alertName(named("Disk\u0000Full\u007f")), "Disk\uFFFDFull\uFFFD");
  assert.equal(alertName(named("a\uD800b")), "a\uFFFDb");
  assert.equal(alertName(named("x".repeat(4096))).length, 253);
  assert.equal(alertName(named("NodeHighCPU")), "NodeHighCPU");
});
