// The webhook notifications Alertmanager would have sent for a history of firing periods: alerts
// grouped by the route's `group_by`, a group's first notification `group_wait` after its first
// alert, later ones on `group_interval` ticks when an alert started or resolved, and again each
// `repeat_interval` while nothing changed (Alertmanager's dedup stage, `needsUpdate`). Resolved
// alerts go out once (`send_resolved: true`) and leave the group; an empty group ends. A
// notification lists its alerts in Alertmanager's order, which decides who gets a gate's budget.
import type { Alert, Notification } from "../intake/alertmanager.ts";
import type { Episode } from "./history.ts";
import type { Delivery } from "./replay_types.ts";

/** The route's timing: by default, manifests/alertmanager-config/alertmanager-config.yaml's. */
export interface Route {
  receiver: string;
  /** Labels alerts are grouped by; `["..."]` groups by all labels. */
  groupBy: string[];
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
}

/** The node-heal route of manifests/alertmanager-config/alertmanager-config.yaml. */
export const DEFAULT_ROUTE: Route = {
  receiver: "node-heal",
  groupBy: ["alertname", "instance"],
  groupWaitMs: 10_000,
  groupIntervalMs: 60_000,
  repeatIntervalMs: 3_600_000,
};

/** What Alertmanager's notification log remembers of a group's last notification. */
interface LogEntry {
  firing: Set<string>;
  resolved: Set<string>;
  at: number;
}

/** The notifications of `history` up to `to`, in time order. */
export function deliveries(history: readonly Episode[], route: Route, to: Date): Delivery[] {
  const groups = new Map<string, Episode[]>();
  for (const e of history) {
    const key = groupKey(e.labels, route.groupBy);
    const members = groups.get(key);
    if (members) members.push(e);
    else groups.set(key, [e]);
  }
  const out: Delivery[] = [];
  for (const [key, members] of groups) {
    for (const d of groupDeliveries(key, members, { route, to })) out.push(d);
  }
  return out.sort((a, b) =>
    a.at.getTime() - b.at.getTime() ||
    (a.notification.groupKey < b.notification.groupKey ? -1 : 1)
  );
}

function groupKey(labels: Record<string, string>, groupBy: string[]): string {
  const names = groupBy.includes("...") ? Object.keys(labels) : groupBy;
  const picked = names.filter((n) => labels[n] !== undefined).sort().map((n) =>
    `${n}=${JSON.stringify(labels[n])}`
  );
  return `{}/{heal="true"}:{${picked.join(", ")}}`;
}

/** One group's notifications: its aggregation group's ticks, and the dedup stage at each. */
function groupDeliveries(
  key: string,
  members: Episode[],
  options: { route: Route; to: Date },
): Delivery[] {
  const { route } = options;
  const pending = [...members].sort((a, b) => a.start.getTime() - b.start.getTime());
  const end = options.to.getTime();
  const out: Delivery[] = [];
  const alerts = new AlertCache();
  let entry: LogEntry | undefined;
  let next = 0;
  while (next < pending.length) {
    // A group begins with its first alert and flushes group_wait later. Alertmanager keeps one
    // alert per fingerprint: a new firing replaces the old one.
    const inGroup = new Map<string, Episode>();
    let tick = pending[next].start.getTime() + route.groupWaitMs;
    while (tick <= end) {
      while (next < pending.length && pending[next].start.getTime() <= tick) {
        const e = pending[next++];
        inGroup.delete(e.fingerprint);
        inGroup.set(e.fingerprint, e);
      }
      const firing: Episode[] = [];
      const resolved: Episode[] = [];
      for (const e of inGroup.values()) {
        (e.end && e.end.getTime() <= tick ? resolved : firing).push(e);
      }
      if (needsUpdate(entry, firing, resolved, { at: tick, repeatMs: route.repeatIntervalMs })) {
        out.push({
          at: new Date(tick),
          notification: notification(key, { firing, resolved, route, alerts }),
        });
        entry = {
          firing: new Set(firing.map((e) => e.fingerprint)),
          resolved: new Set(resolved.map((e) => e.fingerprint)),
          at: tick,
        };
      }
      // Resolved alerts leave the group once flushed; an empty group ends.
      for (const r of resolved) inGroup.delete(r.fingerprint);
      if (inGroup.size === 0) break;
      // Nothing changes before the next start, end or repeat: the ticks between are skipped.
      let changeAt = Math.min(
        pending[next]?.start.getTime() ?? Infinity,
        entry ? entry.at + route.repeatIntervalMs + 1 : Infinity,
      );
      for (const e of firing) if (e.end) changeAt = Math.min(changeAt, e.end.getTime());
      tick = nextTick(tick, { interval: route.groupIntervalMs, changeAt });
    }
    if (tick > end) break;
  }
  return out;
}

/** The first group_interval tick after `tick` at or after `changeAt`. */
function nextTick(tick: number, options: { interval: number; changeAt: number }): number {
  const { interval, changeAt } = options;
  if (changeAt === Infinity) return Infinity;
  return tick + Math.max(1, Math.ceil((changeAt - tick) / interval)) * interval;
}

/** Alertmanager's DedupStage.needsUpdate, with send_resolved. */
function needsUpdate(
  entry: LogEntry | undefined,
  firing: Episode[],
  resolved: Episode[],
  options: { at: number; repeatMs: number },
): boolean {
  if (!entry) return firing.length > 0;
  if (!firing.every((e) => entry.firing.has(e.fingerprint))) return true;
  if (firing.length === 0) return entry.firing.size > 0;
  if (!resolved.every((e) => entry.resolved.has(e.fingerprint))) return true;
  return entry.at < options.at - options.repeatMs;
}

/** Each episode's alert as a notification lists it, firing or resolved, built once and shared. */
class AlertCache {
  #firing = new Map<Episode, Alert>();
  #resolved = new Map<Episode, Alert>();

  get(e: Episode, status: Alert["status"]): Alert {
    const cache = status === "firing" ? this.#firing : this.#resolved;
    let alert = cache.get(e);
    if (!alert) {
      alert = {
        fingerprint: e.fingerprint,
        status,
        labels: e.labels,
        annotations: {},
        startsAt: e.start.toISOString(),
        endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : e.end!.toISOString(),
        generatorURL: "",
      };
      cache.set(e, alert);
    }
    return alert;
  }
}

function notification(
  key: string,
  options: { firing: Episode[]; resolved: Episode[]; route: Route; alerts: AlertCache },
): Notification {
  const { firing, resolved, alerts } = options;
  return {
    receiver: options.route.receiver,
    status: firing.length > 0 ? "firing" : "resolved",
    groupKey: key,
    truncatedAlerts: 0,
    alerts: [
      ...firing.map((e) => alerts.get(e, "firing")),
      ...resolved.map((e) => alerts.get(e, "resolved")),
    ].sort((a, b) => alertOrder(a.labels, b.labels)),
  };
}

/** Alertmanager's order of a notification's alerts (`types.AlertSlice`): by job, instance, labels. */
export function alertOrder(a: Record<string, string>, b: Record<string, string>): number {
  for (const key of ["job", "instance"]) {
    const x = a[key], y = b[key];
    if (x === undefined && y === undefined) continue;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    if (x !== y) return goCompare(x, y);
  }
  return labelsBefore(a, b) ? -1 : labelsBefore(b, a) ? 1 : 0;
}

/** prometheus/common `LabelSet.Before`: fewer labels first, then by the sorted names' values. */
function labelsBefore(a: Record<string, string>, b: Record<string, string>): boolean {
  const an = Object.keys(a), bn = Object.keys(b);
  if (an.length !== bn.length) return an.length < bn.length;
  for (const name of [...an, ...bn].sort(goCompare)) {
    if (a[name] === undefined) return true;
    if (b[name] === undefined) return false;
    if (a[name] !== b[name]) return goCompare(a[name], b[name]) < 0;
  }
  return false;
}

/** Go's string order, by UTF-8 bytes: by code points, where UTF-16 units would differ past U+E000. */
function goCompare(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    const surrogate = (c: number) => c >= 0xd800 && c <= 0xdfff;
    if (surrogate(x) !== surrogate(y) && Math.max(x, y) >= 0xe000) return surrogate(x) ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
