// Policies that parse but can take a cluster down: a rule that acts on alerts nobody opted in to
// healing, replacement as a rule's default, nothing that must stay healthy, budgets above any sane
// ceiling. Each is refused unless the policy names it in `acknowledge:`; an acknowledged danger is
// one warning line at load. (One such policy replaced all 3 workers on one Watchdog notification.)
import { clip } from "../base/clip.ts";
import type { Matcher } from "./matchers.ts";

/** The dangers a policy may acknowledge, by name. */
export const DANGERS = ["noHealOptIn", "replaceByDefault", "minHealthyZero", "highRate"] as const;

/** One of {@link DANGERS}. */
export type Danger = (typeof DANGERS)[number];

/** Remediations an hour `gates.rate` may allow without `highRate`. */
export const RATE_CEILING_PER_HOUR = 100;
/** Replacements an hour `gates.replaceRate` may allow without `highRate`. */
export const REPLACE_RATE_CEILING_PER_HOUR = 20;

/** What the danger checks look at: the policy as read. */
export interface DangerInput {
  rules: readonly { name: string; match: readonly Matcher[]; actions: readonly string[] }[];
  minHealthy: number | string;
  rate: { max: number; windowMs: number };
  replaceRate: { max: number; windowMs: number };
}

/** A danger found: its name and one line saying where. */
export interface Found {
  danger: Danger;
  says: string;
}

/** Whether a rule's matchers ask for the opt-in: `heal="true"`. */
function optsIn(match: readonly Matcher[]): boolean {
  return match.some((m) => m.name === "heal" && m.op === "=" && m.value === "true");
}

function perHour(rate: { max: number; windowMs: number }): number {
  return rate.max * 3_600_000 / rate.windowMs;
}

/** The dangers of a policy, each with one line saying where. */
export function dangersOf(p: DangerInput): Found[] {
  const found: Found[] = [];
  for (const [i, r] of p.rules.entries()) {
    const rule = `rule ${JSON.stringify(clip(r.name, 60))} (rules[${i}])`;
    if (r.actions.some((a) => a !== "none") && !optsIn(r.match)) {
      found.push({ danger: "noHealOptIn", says: `${rule} acts on alerts without heal="true"` });
    }
    if (r.actions[0] === "replace") {
      found.push({ danger: "replaceByDefault", says: `${rule} replaces nodes by default` });
    }
  }
  if (p.minHealthy === 0 || p.minHealthy === "0%") {
    found.push({
      danger: "minHealthyZero",
      says: "gates.minHealthy is 0: every selected node may be taken out at once",
    });
  }
  for (
    const [field, rate, ceiling] of [
      ["rate", p.rate, RATE_CEILING_PER_HOUR],
      ["replaceRate", p.replaceRate, REPLACE_RATE_CEILING_PER_HOUR],
    ] as const
  ) {
    const n = perHour(rate);
    if (n > ceiling) {
      found.push({
        danger: "highRate",
        says: `gates.${field} allows ${Math.round(n)} an hour, above the ceiling of ${ceiling}`,
      });
    } else if (rate.max > ceiling) {
      // An average under the ceiling over a long window still lets all of it come at once.
      found.push({
        danger: "highRate",
        says:
          `gates.${field} allows ${rate.max} at once (in any hour of its window), above the ceiling of ${ceiling}`,
      });
    }
  }
  return found;
}

/**
 * The dangers a policy acknowledges, as warning lines; throws the reason of the refusal (one
 * line naming every danger not acknowledged) when there is one.
 */
export function checkDangers(p: DangerInput, acknowledged: readonly Danger[]): string[] {
  const found = dangersOf(p);
  const open = found.filter((f) => !acknowledged.includes(f.danger));
  if (open.length > 0) {
    const names = [...new Set(open.map((f) => f.danger))];
    throw new Error(
      `it is dangerous: ${open.map((f) => `${f.says} (${f.danger})`).join("; ")}; ` +
        `if that is meant, add acknowledge: [${names.join(", ")}]`,
    );
  }
  return found.map((f) => `The policy acknowledges a danger: ${f.says} (${f.danger})`);
}
