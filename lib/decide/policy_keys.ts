// A key the policy does not know, refused with the key it was nearest to: `macth` in a rule is
// `match` misspelled, and the refusal says so. The unknown key came from whoever edits the
// ConfigMap: it is quoted clipped, or not at all when it looks like a URL or a token, and nothing
// under it is quoted.
import type { z } from "zod";
import { clip } from "../base/clip.ts";
import { fieldName } from "../base/field_path.ts";
import { nearest } from "../base/nearest.ts";
import { quoteKey, quoteKeys } from "./policy_refusal.ts";

/** Unknown keys a refusal suggests a known key for, at most. */
const SUGGEST_MAX = 3;

/** What this module reads of a zod schema: its kind and what it is made of. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The schema itself, under what only wraps it (optional, default, a refinement's pipe). */
function unwrapped(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let def = defOf(s); def.innerType || def.type === "pipe"; def = defOf(s)) {
    s = def.innerType ?? def.in!;
  }
  return s;
}

/** A union's options that `raw` can be: the one its discriminator names, else every one. */
function optionsFor(def: Def, raw: unknown): z.ZodType[] {
  const options = def.options ?? [];
  if (!def.discriminator || raw === null || typeof raw !== "object") return options;
  const tag = (raw as Record<string, unknown>)[def.discriminator];
  const named = options.filter((o) => {
    const literal = defOf(unwrapped(o)).shape?.[def.discriminator!];
    return literal !== undefined && (defOf(literal).values ?? []).includes(tag);
  });
  return named.length ? named : options;
}

/** The keys a policy may have at `path`, by the schema and what the file says there. */
export function keysAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): string[] {
  const s = unwrapped(schema);
  const def = defOf(s);
  if (def.type === "union") {
    return [...new Set(optionsFor(def, raw).flatMap((o) => keysAt(o, raw, path)))];
  }
  if (path.length === 0) return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
  const [head, ...rest] = path;
  const child = raw !== null && typeof raw === "object"
    ? (raw as Record<PropertyKey, unknown>)[head]
    : undefined;
  const next = def.type === "object"
    ? def.shape?.[String(head)]
    : def.type === "array"
    ? def.element
    : def.type === "record"
    ? def.valueType
    : undefined;
  return next ? keysAt(next, child, rest) : [];
}

/** "did you mean …?" for the unknown keys near a known one, or the known keys when none is. */
function hint(keys: readonly PropertyKey[], known: string[]): string {
  const near = keys.slice(0, SUGGEST_MAX).flatMap((k) => {
    const quoted = quoteKey(k);
    const n = quoted.startsWith('"') ? nearest(String(k), known) : undefined;
    return n ? [{ quoted, n: JSON.stringify(n) }] : [];
  });
  if (near.length === 1 && keys.length === 1) return `; did you mean ${near[0].n}?`;
  if (near.length > 0) {
    return `; did you mean ${near.map(({ quoted, n }) => `${n} for ${quoted}`).join(", ")}?`;
  }
  return known.length ? `; valid keys here: ${known.map((k) => JSON.stringify(k)).join(", ")}` : "";
}

/**
 * The refusal of unknown keys at `path`: `unknown key "macth" in rules[0]; did you mean "match"?`,
 * or the keys valid there when none is near.
 */
export function unknownKeysRefusal(
  schema: z.ZodType,
  raw: unknown,
  issue: { path: readonly PropertyKey[]; keys: readonly PropertyKey[] },
): string {
  const { path, keys } = issue;
  const where = path.length ? `in ${clip(fieldName(path), 200)}` : "at the top of the file";
  const named = keys.length === 1
    ? `unknown key ${quoteKey(keys[0])}`
    : `unknown keys ${quoteKeys(keys)}`;
  return `${named} ${where}${hint(keys, keysAt(schema, raw, path))}`;
}
