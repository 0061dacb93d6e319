// Would it have recovered by itself? For each alert name, how many of the history's firing periods
// ended within a bound of their start (`--self-recovery-within`): read from the history alone, the
// same whatever the policy. And per policy, how many of the firing periods it acted on were of
// those: a cordon of an alert that resolved on its own within minutes bought nothing.
import type { Episode } from "./history.ts";
import type {
  ReplayDecision,
  SelfRecovery,
  SelfRecoveryAlert,
  SelfRecoveryRun,
} from "./report_types.ts";

/** `--self-recovery-within`'s default, and the most it takes. */
export const DEFAULT_SELF_RECOVERY_MS = 10 * 60_000;
export const MAX_SELF_RECOVERY_MS = 24 * 3_600_000;

/** The most alert names the report lists (most firing periods first); the rest are counted. */
export const SELF_RECOVERY_ALERTNAMES = 50;

/** The actions that remediate: a firing alert's decision that cordons, drains or replaces its Node. */
const REMEDIATIONS = new Set(["cordon", "drain", "replace"]);

const MINUTE = 60_000;

/** How one firing period ended: its length if it resolved, else why it is not counted as resolved. */
type Ending = { resolvedMs: number } | "stillFiring" | "firingAtStart";

/** The firing periods of a window, sorted out by alert name and ending, read once per report. */
export class SelfRecoveryIndex {
  readonly withinMs: number;
  #endings = new Map<Episode, Ending>();
  #byFingerprint = new Map<string, Episode[]>();
  #byName = new Map<string, Episode[]>();

  /**
   * `history` sorted by start (as {@link EpisodeReader} gives it). A firing period whose first
   * sample is at or before `from` was already firing when the window opened: its length is not
   * known, so it is counted apart (`firingAtStart`) and left out of the figures.
   */
  constructor(history: readonly Episode[], options: { from: Date; withinMs: number }) {
    this.withinMs = options.withinMs;
    const from = options.from.getTime();
    for (const e of history) {
      const start = e.start.getTime();
      this.#endings.set(
        e,
        start <= from
          ? "firingAtStart"
          : e.end
          ? { resolvedMs: e.end.getTime() - start }
          : "stillFiring",
      );
      push(this.#byFingerprint, e.fingerprint, e);
      push(this.#byName, e.labels.alertname ?? "", e);
    }
  }

  /** Per alert name (at most {@link SELF_RECOVERY_ALERTNAMES}, most firing periods first). */
  summary(): SelfRecovery {
    const all = [...this.#byName.entries()].map(([name, es]) => this.#alert(name, es));
    all.sort((a, b) =>
      b.episodes + b.firingAtStart - a.episodes - a.firingAtStart ||
      (a.alertname < b.alertname ? -1 : a.alertname > b.alertname ? 1 : 0)
    );
    const alerts = all.slice(0, SELF_RECOVERY_ALERTNAMES);
    const leftOut = all.length - alerts.length;
    return {
      withinMs: this.withinMs,
      alerts,
      ...(leftOut > 0 ? { alertnamesLeftOut: leftOut } : {}),
    };
  }

  /**
   * For one policy's decisions: per alert name `listed`, the firing periods (of those counted)
   * it remediated, and of those, the ones that resolved within the bound.
   */
  remediated(decisions: readonly ReplayDecision[], listed: readonly string[]): SelfRecoveryRun[] {
    const acted = new Set<Episode>();
    for (const d of decisions) {
      if (d.trigger !== "alert" || d.status !== "firing" || !REMEDIATIONS.has(d.outcome)) continue;
      const e = this.#episodeAt(d.fingerprint, Date.parse(d.at));
      if (e && this.#endings.get(e) !== "firingAtStart") acted.add(e);
    }
    const counts = new Map(listed.map((name) => [name, { remediated: 0, ofWhichWithinBound: 0 }]));
    for (const e of acted) {
      const c = counts.get(e.labels.alertname ?? "");
      if (!c) continue;
      c.remediated++;
      if (this.#within(e, this.withinMs)) c.ofWhichWithinBound++;
    }
    return [...counts.entries()].map(([alertname, c]) => ({ alertname, ...c }));
  }

  #alert(alertname: string, episodes: Episode[]): SelfRecoveryAlert {
    const counted = episodes.filter((e) => this.#endings.get(e) !== "firingAtStart");
    const within = (ms: number) => counted.filter((e) => this.#within(e, ms)).length;
    const stillFiring = counted.filter((e) => this.#endings.get(e) === "stillFiring").length;
    const within1h = within(60 * MINUTE);
    return {
      alertname,
      episodes: counted.length,
      withinBound: within(this.withinMs),
      firingAtStart: episodes.length - counted.length,
      resolved: {
        within5m: within(5 * MINUTE),
        within10m: within(10 * MINUTE),
        within1h,
        later: counted.length - within1h - stillFiring,
        stillFiring,
      },
      medianMs: median(counted.map((e) => this.#length(e))),
    };
  }

  /** Whether `e` resolved at most `ms` after its start. */
  #within(e: Episode, ms: number): boolean {
    return this.#length(e) <= ms;
  }

  /** How long `e` fired; Infinity when it still fired at the end (or its start is unknown). */
  #length(e: Episode): number {
    const ending = this.#endings.get(e)!;
    return typeof ending === "object" ? ending.resolvedMs : Infinity;
  }

  /** The firing period of `fingerprint` that had started by `at`: the latest one. */
  #episodeAt(fingerprint: string | undefined, at: number): Episode | undefined {
    const es = fingerprint === undefined ? undefined : this.#byFingerprint.get(fingerprint);
    if (!es) return undefined;
    let found: Episode | undefined;
    for (const e of es) {
      if (e.start.getTime() > at) break;
      found = e;
    }
    return found;
  }
}

/** The share resolved within the bound, rounded down: never more than the history shows. */
export function percent(a: SelfRecoveryAlert): number {
  return a.episodes > 0 ? Math.floor((100 * a.withinBound) / a.episodes) : 0;
}

/** The median of lengths; null when there are none or it falls on one still firing. */
export function median(lengths: number[]): number | null {
  if (lengths.length === 0) return null;
  const sorted = [...lengths].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const value = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return Number.isFinite(value) ? value : null;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
