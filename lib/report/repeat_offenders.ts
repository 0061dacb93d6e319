// Repeat offenders: the Nodes node-heal remediated most often lately, read from each Node's
// `remediated-at` history (node-heal's sealed state, the last 20 times). `/status` and the status
// page name the first few; `nodeheal_repeat_offenders` counts those at or above the alert's
// threshold, for the self-alert NodeHealRepeatOffender (docs/monitoring.md).
import type { Node } from "../base/node.ts";
import { remediations } from "../decide/node_state.ts";

/** The window repeat offenders are counted in: a day, as the self-alert says. */
export const REPEAT_WINDOW_MS = 24 * 3_600_000;
/** Remediations within the window that make a repeat offender `/status` lists: more than one. */
export const REPEAT_LISTED_MIN = 2;
/** Remediations within the window that the gauge counts, and so the self-alert fires on. */
export const REPEAT_ALERT_MIN = 3;
/** Repeat offenders `/status` names, at most; the rest are counted. */
export const REPEAT_OFFENDERS_LISTED = 10;

/** One Node remediated often: how often within the window, and when last. */
export interface RepeatOffender {
  node: string;
  remediations: number;
  /** The last remediation (RFC 3339). */
  last: string;
}

/** What `/status` shows of repeat offenders. */
export interface RepeatOffenders {
  windowMs: number;
  /** The count at which the self-alert fires. */
  alertAt: number;
  /** The Nodes remediated at least {@link REPEAT_LISTED_MIN} times, most first, at most 10. */
  nodes: RepeatOffender[];
  /** Repeat offenders beyond those listed. */
  notListed: number;
}

/** The times (ms) each Node was remediated within the window before `now`. */
function recent(node: Node, now: Date): number[] {
  const since = now.getTime() - REPEAT_WINDOW_MS;
  return remediations(node).filter((t) => t > since);
}

/** The repeat offenders among `nodes` at `now`: most remediations first, then the latest. */
export function repeatOffenders(nodes: Iterable<Node>, now: Date): RepeatOffenders {
  const found: RepeatOffender[] = [];
  for (const node of nodes) {
    const times = recent(node, now);
    if (times.length < REPEAT_LISTED_MIN) continue;
    const last = new Date(Math.max(...times)).toISOString();
    found.push({ node: node.metadata.name, remediations: times.length, last });
  }
  found.sort((a, b) =>
    b.remediations - a.remediations || b.last.localeCompare(a.last) ||
    a.node.localeCompare(b.node)
  );
  return {
    windowMs: REPEAT_WINDOW_MS,
    alertAt: REPEAT_ALERT_MIN,
    nodes: found.slice(0, REPEAT_OFFENDERS_LISTED),
    notListed: Math.max(0, found.length - REPEAT_OFFENDERS_LISTED),
  };
}

/** How many of `nodes` were remediated at least {@link REPEAT_ALERT_MIN} times in the window. */
export function countRepeatOffenders(nodes: Iterable<Node>, now: Date): number {
  let count = 0;
  for (const node of nodes) if (recent(node, now).length >= REPEAT_ALERT_MIN) count++;
  return count;
}
