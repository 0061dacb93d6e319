// Alert history as Prometheus kept it: the `ALERTS{alertstate="firing"}` series turned back into
// firing periods (episodes), each with the fingerprint Alertmanager gives its labels.
import type { Series } from "./prometheus.ts";

/** One alert firing from `start` until `end` (undefined: still firing when the window ends). */
export interface Episode {
  labels: Record<string, string>;
  fingerprint: string;
  start: Date;
  end?: Date;
}

/**
 * The query whose range answers {@link episodes} reads: the time of each ALERTS sample rather
 * than its value, so that a series that stopped (without a staleness marker, as backfilled data
 * has none) is seen as stopped, not carried for the 5 minutes of Prometheus's lookback.
 */
export function alertsQuery(selector: string): string {
  return `timestamp(${alertsSelector(selector)})`;
}

/** `ALERTS{alertstate="firing",<selector>}`: the firing alerts a selector such as `heal="true"` picks. */
export function alertsSelector(selector: string): string {
  const inner = selector.trim().replace(/^\{|\}$/g, "").trim();
  return `ALERTS{alertstate="firing"${inner ? `,${inner}` : ""}}`;
}

/**
 * The firing periods in a range answer of {@link alertsQuery}: an alert fires from its first
 * sample while each step finds a sample at most two evaluation intervals old, and is resolved one
 * evaluation interval after its last sample (when Prometheus sends the resolution).
 */
export function episodes(
  series: readonly Series[],
  options: { evalIntervalMs: number; stepMs: number; to: Date },
): Episode[] {
  const fresh = 2 * options.evalIntervalMs;
  const out: Episode[] = [];
  for (const s of series) {
    const labels = alertLabels(s.labels);
    const fingerprint = alertmanagerFingerprint(labels);
    let start: number | undefined;
    let last = 0;
    const close = () => {
      if (start === undefined) return;
      out.push({
        labels,
        fingerprint,
        start: new Date(start),
        end: new Date(last + options.evalIntervalMs),
      });
      start = undefined;
    };
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    let previousStep: number | undefined;
    for (const [at, sampleSeconds] of points) {
      const sample = Math.round(sampleSeconds * 1000);
      const present = at - sample <= fresh;
      // A step missing from the answer: the series was absent (resolved) in between.
      if (previousStep !== undefined && at - previousStep > options.stepMs) close();
      previousStep = at;
      if (!present) {
        close();
        continue;
      }
      if (start === undefined) start = sample;
      last = sample;
    }
    const lastStep = points.at(-1)?.[0];
    if (start !== undefined && lastStep !== undefined && options.to.getTime() - lastStep <= fresh) {
      out.push({ labels, fingerprint, start: new Date(start) });
    } else {
      close();
    }
  }
  return out.sort((a, b) =>
    a.start.getTime() - b.start.getTime() || cmp(a.fingerprint, b.fingerprint)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An alert's labels as Alertmanager receives them: the series' labels but its name and state. */
export function alertLabels(series: Record<string, string>): Record<string, string> {
  const { __name__: _name, alertstate: _state, ...labels } = series;
  return labels;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/**
 * Alertmanager's fingerprint of a label set (prometheus/common `LabelSet.Fingerprint`): FNV-1a
 * 64 over the sorted names and values, each followed by the byte 0xff; 16 hex digits.
 */
export function alertmanagerFingerprint(labels: Record<string, string>): string {
  let h = FNV_OFFSET;
  const add = (bytes: Uint8Array) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK;
  };
  const encoder = new TextEncoder();
  const separator = new Uint8Array([0xff]);
  for (const name of Object.keys(labels).sort()) {
    add(encoder.encode(name));
    add(separator);
    add(encoder.encode(labels[name]));
    add(separator);
  }
  return h.toString(16).padStart(16, "0");
}
