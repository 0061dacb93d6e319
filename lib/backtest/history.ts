// Alert history as Prometheus kept it: the `ALERTS{alertstate="firing"}` series turned back into
// firing periods (episodes), each with the fingerprint Alertmanager gives its labels.
import { clip } from "../base/clip.ts";
import { formatDuration } from "../base/duration.ts";
import { type Series, seriesKey } from "./prometheus.ts";
import { ANSWER_LIMITS } from "./prometheus_answer.ts";

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

/** Options of {@link episodes} and {@link EpisodeReader}. */
export interface EpisodeOptions {
  /** The alert rules' evaluation interval. */
  evalIntervalMs: number;
  /** The range query's step: at most two evaluation intervals. */
  stepMs: number;
  /** The window's end: an alert still firing then has no end. */
  to: Date;
}

/**
 * The firing periods in a range answer of {@link alertsQuery}: an alert fires from its first
 * sample while each step finds a sample at most two evaluation intervals old, and is resolved one
 * evaluation interval after its last sample (when Prometheus sends the resolution).
 */
export function episodes(series: readonly Series[], options: EpisodeOptions): Episode[] {
  const reader = new EpisodeReader(options);
  reader.add(series);
  return reader.episodes();
}

/** The most alert series a backtest reads (the bound of one answer too, prometheus_answer.ts). */
export const MAX_SERIES = ANSWER_LIMITS.series;

/**
 * The most firing periods a backtest reads: more could not be replayed in the binary's heap (each
 * is at least one decision; cli.ts's checkHeap), and a series that flaps at every step makes many.
 */
export const MAX_EPISODES = 200_000;

/** What {@link EpisodeReader} keeps of one series between chunks. */
interface SeriesState {
  labels: Record<string, string>;
  fingerprint: string;
  start?: number;
  last: number;
  previousStep?: number;
}

/**
 * {@link episodes} read chunk by chunk, in time order: only the open firing periods are kept
 * between chunks, not the samples, so a month of history costs the memory of one chunk.
 */
export class EpisodeReader {
  #options: EpisodeOptions;
  #fresh: number;
  #series = new Map<string, SeriesState>();
  #out: Episode[] = [];

  constructor(options: EpisodeOptions) {
    if (options.stepMs > 2 * options.evalIntervalMs) {
      throw new Error(
        `Cannot read firing periods at a step of ${formatDuration(options.stepMs)}: ` +
          `a step longer than two evaluation intervals (${
            formatDuration(2 * options.evalIntervalMs)
          }) misses gaps and ends`,
      );
    }
    this.#options = options;
    this.#fresh = 2 * options.evalIntervalMs;
  }

  /** Reads one chunk of the answer: its points later than those of the chunks before. */
  add(series: readonly Series[]): void {
    for (const s of series) {
      const key = seriesKey(s.labels);
      let state = this.#series.get(key);
      if (!state) {
        if (this.#series.size >= MAX_SERIES) {
          throw new Error(
            `Cannot read more than ${MAX_SERIES.toLocaleString("en")} alert series: ` +
              `give a narrower --selector or a later --from`,
          );
        }
        const labels = alertLabels(s.labels);
        state = { labels, fingerprint: alertmanagerFingerprint(labels), last: 0 };
        this.#series.set(key, state);
      }
      const points = [...s.points].sort((a, b) => a[0] - b[0]);
      for (const [at, sampleSeconds] of points) this.#point(state, at, sampleSeconds);
    }
  }

  /** The firing periods read, by start time; those still firing at `to` left open. */
  episodes(): Episode[] {
    const out = [...this.#out];
    for (const state of this.#series.values()) {
      if (state.start === undefined) continue;
      const { labels, fingerprint, start, last, previousStep } = state;
      if (this.#options.to.getTime() - previousStep! <= this.#fresh) {
        out.push({ labels, fingerprint, start: new Date(start) });
      } else {
        out.push({ labels, fingerprint, start: new Date(start), end: this.#end(last) });
      }
    }
    return out.sort((a, b) =>
      a.start.getTime() - b.start.getTime() || cmp(a.fingerprint, b.fingerprint)
    );
  }

  #point(state: SeriesState, at: number, sampleSeconds: number): void {
    // The same step twice (a chunk repeated): read once.
    if (state.previousStep !== undefined && at <= state.previousStep) return;
    if (!Number.isFinite(sampleSeconds)) {
      throw new Error(
        `Cannot read the firing periods of ${seriesText(state.labels)}: its timestamp() at ${
          new Date(at).toISOString()
        } is ${sampleSeconds}, not a time`,
      );
    }
    const sample = Math.round(sampleSeconds * 1000);
    // timestamp() is the time of a sample at or before the step: a later one is no history.
    if (sample > at) {
      throw new Error(
        `Cannot read the firing periods of ${seriesText(state.labels)}: its timestamp() at ${
          new Date(at).toISOString()
        } is ${sampleSeconds}, later than the step it was read at`,
      );
    }
    const present = at - sample <= this.#fresh;
    // A step missing from the answer: the series was absent (resolved) in between.
    if (state.previousStep !== undefined && at - state.previousStep > this.#options.stepMs) {
      this.#close(state);
    }
    state.previousStep = at;
    if (!present) return this.#close(state);
    if (state.start === undefined) state.start = sample;
    state.last = sample;
  }

  #close(state: SeriesState): void {
    if (state.start === undefined) return;
    if (this.#out.length >= MAX_EPISODES) {
      throw new Error(
        `Cannot read more than ${MAX_EPISODES.toLocaleString("en")} firing periods: ` +
          `give a narrower --selector or a later --from`,
      );
    }
    const { labels, fingerprint, start, last } = state;
    this.#out.push({ labels, fingerprint, start: new Date(start), end: this.#end(last) });
    state.start = undefined;
  }

  #end(last: number): Date {
    return new Date(last + this.#options.evalIntervalMs);
  }
}

/** An alert's series as PromQL writes it, to name it in a message. */
function seriesText(labels: Record<string, string>): string {
  const inner = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
  return clip(`ALERTS{${inner}}`, 300);
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
