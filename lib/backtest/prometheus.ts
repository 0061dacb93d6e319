// Prometheus's HTTP API, as much as the backtest reads: range queries (in chunks under the
// server's 11,000 points per series) and instant queries. Every answer is checked against the
// API's shape before it is used: a proxy's error page, a truncated body or a hostile server ends
// the backtest with one line naming what was wrong, never a wrong history. Answers are read as
// they arrive, within bounds (prometheus_answer.ts): none is ever held whole.
import { clip } from "../base/clip.ts";
import { formatDuration } from "../base/duration.ts";
import {
  type Answer,
  ANSWER_LIMITS,
  type AnswerErrors,
  type AnswerLimits,
  NotJsonAnswer,
  readAnswer,
  type Series,
} from "./prometheus_answer.ts";

export type { Series } from "./prometheus_answer.ts";

/** Options of {@link PrometheusApi}. */
export interface PrometheusOptions {
  /** Extra request headers (`Authorization`). */
  headers?: Record<string, string>;
  /** How long one request may take, its body read (ms, default 60 s). */
  timeoutMs?: number;
  /** The bounds of one answer (default {@link ANSWER_LIMITS}). */
  limits?: Partial<AnswerLimits>;
}

/** The points a range query asks for at most per chunk (Prometheus refuses over 11,000). */
export const MAX_POINTS = 10_000;

/**
 * The samples a range request should bring at most, all series together: a chunk's samples are
 * kept until the chunk is read, so many series firing at once get shorter chunks (tens of MB of
 * heap, not gigabytes, for hundreds of alerts firing all month); half of what one answer may keep
 * ({@link ANSWER_LIMITS}), so that a chunk sized from the one before stays under it.
 */
export const CHUNK_SAMPLES = 300_000;

/** The steps of the first chunk, before the number of series is known; and the fewest of any. */
const FIRST_CHUNK_STEPS = 500;
const MIN_CHUNK_STEPS = 30;

/** The largest answer read (bytes, `--max-answer-bytes`): past it reading stops, the backtest ends. */
export const MAX_ANSWER_BYTES = ANSWER_LIMITS.bytes;

/** What was wrong with an answer, worded for the user: the backtest ends with its message. */
class AnswerError extends Error {}

/** An answer with more samples than one answer may keep: the range is asked again in shorter chunks. */
class TooManySamples extends AnswerError {}

/** A `--prometheus` URL checked: the one to ask, and the one to show (its password hidden). */
export function prometheusUrl(value: string): { url: string; shown: string } {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new Error(
      `Cannot use --prometheus "${value}": expected a URL such as http://prometheus:9090`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`Cannot use --prometheus "${value}": expected an http or https URL`);
  }
  if (parsed.search || parsed.hash) {
    throw new Error(
      `Cannot use --prometheus "${value}": expected a URL without a query or fragment`,
    );
  }
  const url = parsed.href.replace(/\/+$/, "");
  if (parsed.password) parsed.password = "***";
  return { url, shown: parsed.href.replace(/\/+$/, "") };
}

/** A Prometheus server's query API. */
export class PrometheusApi {
  /** The server's URL as shown in reports and messages: a password in it is hidden. */
  readonly url: string;
  /** Samples answered outside the window asked for (a query frontend's alignment): dropped. */
  dropped = 0;
  #base: string;
  #options: PrometheusOptions;
  #limits: AnswerLimits;

  constructor(url: string, options: PrometheusOptions = {}) {
    const { url: base, shown } = prometheusUrl(url);
    this.url = shown;
    this.#base = base;
    this.#options = options;
    this.#limits = { ...ANSWER_LIMITS, ...options.limits };
  }

  /** The samples a chunk is sized for: {@link CHUNK_SAMPLES}, or half of what an answer may keep. */
  get #chunkSamples(): number {
    return Math.min(CHUNK_SAMPLES, Math.floor(this.#limits.samples / 2));
  }

  /**
   * A range query over [from, to] at `stepMs`, one chunk at a time, in time order: at most
   * {@link MAX_POINTS} steps, fewer when the series are many (see {@link CHUNK_SAMPLES}).
   */
  async *rangeChunks(
    query: string,
    range: { from: Date; to: Date; stepMs: number },
  ): AsyncGenerator<Series[]> {
    const { stepMs } = range;
    const to = range.to.getTime();
    let steps = FIRST_CHUNK_STEPS;
    for (let start = range.from.getTime(), end = 0; start <= to; start = end + stepMs) {
      end = Math.min(start + (steps - 1) * stepMs, to);
      let chunk: Series[];
      try {
        // A query frontend may align a range's start down to its step: one step earlier is kept.
        chunk = await this.#series("query_range", {
          query,
          start: String(start / 1000),
          end: String(end / 1000),
          step: String(stepMs / 1000),
        }, { from: start - stepMs, to: end });
      } catch (err) {
        // Too many samples for one answer: ask again from the same start for a quarter of the
        // steps, down to the fewest.
        const asked = Math.round((end - start) / stepMs) + 1;
        if (!(err instanceof TooManySamples) || asked <= MIN_CHUNK_STEPS) throw err;
        steps = Math.max(MIN_CHUNK_STEPS, Math.floor(asked / 4));
        end = start - stepMs;
        continue;
      }
      let samples = 0;
      for (const s of chunk) {
        // In time order; a step a query frontend aligned to before `start` is kept (a step seen
        // twice is read once by the EpisodeReader).
        s.points.sort((a, b) => a[0] - b[0]);
        samples += s.points.length;
      }
      const perStep = samples / (Math.round((end - start) / stepMs) + 1);
      yield chunk;
      steps = Math.max(
        MIN_CHUNK_STEPS,
        Math.min(MAX_POINTS, Math.floor(this.#chunkSamples / Math.max(perStep, 1))),
      );
    }
  }

  /** A range query over [from, to] at `stepMs`: each series once, its points in time order. */
  async queryRange(
    query: string,
    range: { from: Date; to: Date; stepMs: number },
  ): Promise<Series[]> {
    const bySeries = new Map<string, Series>();
    for await (const chunk of this.rangeChunks(query, range)) {
      for (const s of chunk) {
        const key = seriesKey(s.labels);
        const known = bySeries.get(key);
        if (!known) bySeries.set(key, s);
        else for (const p of s.points) known.points.push(p);
      }
    }
    const out = [...bySeries.values()];
    for (const s of out) s.points.sort((a, b) => a[0] - b[0]);
    return out;
  }

  /** An instant query at `at`. */
  async query(query: string, at: Date): Promise<Series[]> {
    return await this.#series("query", { query, time: String(at.getTime() / 1000) });
  }

  #where(path: string): string {
    return `Prometheus at ${this.url} answered ${path}`;
  }

  /** The series of a query's answer, read within the bounds; the first thing wrong ends it in one line. */
  async #series(
    path: "query" | "query_range",
    params: Record<string, string>,
    window?: { from: number; to: number },
  ): Promise<Series[]> {
    const expected = path === "query" ? "vector" : "matrix";
    const timeoutMs = this.#options.timeoutMs ?? 60_000;
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let answer: Answer;
    try {
      response = await fetch(`${this.#base}/api/v1/${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...this.#options.headers,
        },
        body: new URLSearchParams(params),
        signal,
      });
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel().catch(() => {});
        throw this.#refused(path, response.status);
      }
      answer = await readAnswer(response.body, {
        expected,
        limits: this.#limits,
        errors: this.#errors(path),
        ...(window ? { window } : {}),
      });
    } catch (err) {
      if (signal.aborted) {
        throw new Error(
          `Prometheus at ${this.url} did not answer ${path} within ${formatDuration(timeoutMs)}`,
        );
      }
      if (err instanceof NotJsonAnswer) {
        throw new Error(
          `${this.#where(path)} with HTTP ${response!.status} and no JSON: ${quote(err.head)}`,
        );
      }
      if (err instanceof AnswerError) throw err;
      // Deno's own message ("fetch failed") says less than its cause; either may hold the URL.
      const cause = (err as Error).cause instanceof Error ? (err as Error).cause as Error : err;
      const message = oneLine((cause as Error).message).replaceAll(this.#base, this.url);
      throw new Error(`Cannot reach Prometheus at ${this.url}: ${message}`);
    }
    if (answer.notApi || !answer.status) {
      if (!response.ok) throw this.#refused(path, response.status);
      // Valid JSON other than an object, or one without a status: its start, on one line.
      throw new Error(
        `${this.#where(path)} with ${clip(oneLine(answer.head), 200)}, not an API answer`,
      );
    }
    if (answer.status !== "success") {
      const { errorType, error } = answer;
      const type = errorType !== undefined && /^\w+$/.test(errorType) ? `${errorType}: ` : "";
      throw new Error(
        `Prometheus at ${this.url} refused ${path} "${params.query}": ${type}${
          error === undefined ? `HTTP ${response.status}` : quote(error)
        }`,
      );
    }
    if (!response.ok) throw this.#refused(path, response.status);
    if (answer.resultType !== expected) {
      throw new AnswerError(
        `${this.#where(path)} with no resultType, expected a "${expected}"`,
      );
    }
    if (!answer.result) throw this.#errors(path).bad("data.result", "an array", "nothing");
    this.dropped += answer.dropped;
    return answer.series;
  }

  /** How the answer reader words what is wrong with an answer to `path`. */
  #errors(path: string): AnswerErrors {
    return {
      bad: (field, wants, got) =>
        new AnswerError(
          `Cannot read the answer of Prometheus at ${this.url} to ${path}: field "${field}" must be ${wants}, got ${got}`,
        ),
      wrongType: (type) =>
        new AnswerError(
          `${this.#where(path)} with a ${quote(type)}, expected a "${
            path === "query" ? "vector" : "matrix"
          }"`,
        ),
      tooBig: (what) => {
        const hint = what.endsWith("samples")
          ? "; give a longer --step or a narrower --selector"
          : what.endsWith("series") || what.includes("labels")
          ? "; give a narrower --selector"
          : "";
        const Err = what.endsWith("samples") ? TooManySamples : AnswerError;
        return new Err(`${this.#where(path)} with ${what}, more than node-heal reads${hint}`);
      },
    };
  }

  #refused(path: string, status: number): Error {
    const hint = status !== 401 && status !== 403
      ? ""
      : this.#options.headers?.authorization
      ? ": the bearer token was refused"
      : this.url !== this.#base
      ? ": the credentials in --prometheus were refused"
      : ": give a token with --bearer-token-file";
    return new Error(`Prometheus at ${this.url} refused ${path} with HTTP ${status}${hint}`);
  }
}

/** Text from the server, on one line, short, its control characters escaped. */
function quote(text: string): string {
  return JSON.stringify(clip(oneLine(text), 200));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** One key per label set, whatever the order of its labels. */
export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}
