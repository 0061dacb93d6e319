// node-heal's seal over its state on a Node: an HMAC (SHA-256) of the Node's name and uid and every
// `node-heal.io/*` annotation node-heal keeps there, with a key only node-heal holds (a Secret in
// its namespace, act/state_key.ts). Anyone who may patch a Node can write those annotations; only
// node-heal can seal them, so what it reads back unsealed (written, or edited, by someone else, or
// copied from another Node) is not its state and counts for nothing (admission.ts).
import { createHmac, timingSafeEqual } from "node:crypto";
import { HmacSha256 } from "../base/hmac_sha256.ts";
import type { Node } from "../base/node.ts";
import { Memo } from "../base/recent.ts";
import type { NodePatch } from "./decision.ts";
import { STATE_KEYS } from "./state_schema.ts";

/** The annotation that carries the seal. */
export const SEAL = "node-heal.io/seal";

/** The seal's format: `v1.` and the HMAC's hex. */
const VERSION = "v1";

/**
 * What a seal node-heal wrote looks like: anything else verifies as nothing, before it is compared
 * (a value of the right length in characters but not in bytes once made a throw of the comparison,
 * and of everything that takes Nodes in after it).
 */
const SEAL_FORMAT = /^v1\.[0-9a-f]{64}$/;

/**
 * Seals made lately, by what they seal: the answer to a write, and its watch event, carry the
 * state just sealed, and checking it takes no second HMAC. An entry is a few hundred bytes.
 */
const RECENT_SEALS = 256;

/**
 * The longest state (bytes of its canonical text, UTF-8) sealed in JavaScript ({@link HmacSha256}:
 * a few µs for a cordon's, with none of the objects `node:crypto`'s `createHmac` builds for each);
 * a longer one (many holds, or someone else's) is sealed by `node:crypto`, faster per byte from
 * about 800 bytes on: whatever its characters, a state costs its check about what it did.
 */
const JS_SEAL_MAX_BYTES = 1024;

const encoder = new TextEncoder();

/** Seals and checks node-heal's state on Nodes with one key. */
export class StateSeal {
  #key: Uint8Array;
  #hmac: HmacSha256;
  /** Seals made lately, by what they seal (a state beyond 4 KB is sealed every time). */
  #recent = new Memo<string>(RECENT_SEALS, 4096);

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("a state key must hold at least 32 bytes");
    this.#key = key;
    this.#hmac = new HmacSha256(key);
  }

  /** The seal of `state` (node-heal's annotations, as they will be) on Node `node`. */
  sign(node: { name: string; uid?: string }, state: Record<string, string>): string {
    const text = canonical(node, state);
    return this.#recent.get(text, () => `${VERSION}.${this.#hex(text)}`);
  }

  #hex(text: string): string {
    const bytes = encoder.encode(text);
    if (bytes.length <= JS_SEAL_MAX_BYTES) return this.#hmac.hex(bytes);
    return createHmac("sha256", this.#key).update(bytes).digest("hex");
  }

  /** Whether Node `node`'s annotations carry the seal of its node-heal state as it is. */
  verify(node: Node): boolean {
    const annotations = node.metadata.annotations ?? {};
    const seal = annotations[SEAL];
    if (typeof seal !== "string" || !SEAL_FORMAT.test(seal)) return false;
    const expected = this.sign(node.metadata, stateOf(annotations));
    return timingSafeEqual(encoder.encode(seal), encoder.encode(expected));
  }
}

/** node-heal's annotations among `annotations`. */
export function stateOf(annotations: Record<string, string>): Record<string, string> {
  const state: Record<string, string> = {};
  for (const key of STATE_KEYS) if (annotations[key] !== undefined) state[key] = annotations[key];
  return state;
}

/** Whether `annotations` hold any of node-heal's state, or its seal. */
export function holdsState(annotations: Record<string, string> | undefined): boolean {
  if (!annotations) return false;
  return annotations[SEAL] !== undefined || STATE_KEYS.some((k) => annotations[k] !== undefined);
}

/** What is sealed: the Node's name and uid, then each annotation in order, values quoted. */
function canonical(node: { name: string; uid?: string }, state: Record<string, string>): string {
  const lines = [VERSION, node.name, node.uid ?? ""];
  for (const key of Object.keys(state).sort()) lines.push(`${key}=${JSON.stringify(state[key])}`);
  return lines.join("\n");
}

/**
 * `patch` (decided on Node `node`, as node-heal read it) made to write node-heal's whole state,
 * sealed: every annotation of node-heal's it does not set is written as it was read, or removed
 * when it was not there (anything else someone wrote goes), and the seal is of the result. The
 * patch carries the resourceVersion it was decided on, so the result is exactly what was sealed.
 */
export function sealPatch(node: Node, patch: NodePatch, seal: StateSeal): NodePatch {
  const before = node.metadata.annotations ?? {};
  const change = patch.metadata.annotations ?? {};
  const after: Record<string, string> = {};
  const full: Record<string, string | null> = {};
  for (const key of STATE_KEYS) {
    const value = Object.hasOwn(change, key) ? change[key] : before[key];
    full[key] = value ?? null;
    if (value != null) after[key] = value;
  }
  full[SEAL] = Object.keys(after).length > 0 ? seal.sign(node.metadata, after) : null;
  return { ...patch, metadata: { ...patch.metadata, annotations: { ...change, ...full } } };
}
