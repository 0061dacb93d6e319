// Prometheus's HTTP API, as much as the backtest reads: range queries (in chunks under the
// server's 11,000 points per series) and instant queries. Every answer is checked against the
// API's shape before it is used: a proxy's error page, a truncated body or a hostile server ends
// the backtest with one line naming what was wrong, never a wrong history.
import { clip } from "../clip.ts";
import { formatDuration } from "../duration.ts";

/** One series of an answer: its labels, and its samples as [time (ms), value]. */
export interface Series {
  labels: Record<string, string>;
  points: [number, number][];
}

/** Options of {@link PrometheusApi}. */
export interface PrometheusOptions {
  /** Extra request headers (`Authorization`). */
  headers?: Record<string, string>;
  /** How long one request may take, its body read (ms, default 60 s). */
  timeoutMs?: number;
}

/** The points a range query asks for at most per chunk (Prometheus refuses over 11,000). */
export const MAX_POINTS = 10_000;

/**
 * The samples a range request should bring at most, all series together: a chunk's answer is
 * parsed whole, so many series firing at once get shorter chunks (a few hundred MB of heap, not
 * gigabytes, for hundreds of alerts firing all month).
 */
export const CHUNK_SAMPLES = 300_000;

/** The steps of the first chunk, before the number of series is known; and the fewest of any. */
const FIRST_CHUNK_STEPS = 500;
const MIN_CHUNK_STEPS = 60;

/** The largest answer read (bytes): a bigger one is refused rather than filling the memory. */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

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
  #base: string;
  #options: PrometheusOptions;

  constructor(url: string, options: PrometheusOptions = {}) {
    const { url: base, shown } = prometheusUrl(url);
    this.url = shown;
    this.#base = base;
    this.#options = options;
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
      const answer = await this.#get("query_range", {
        query,
        start: String(start / 1000),
        end: String(end / 1000),
        step: String(stepMs / 1000),
      });
      const chunk = seriesOf(answer, { expected: "matrix", url: this.url, path: "query_range" });
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
        Math.min(MAX_POINTS, Math.floor(CHUNK_SAMPLES / Math.max(perStep, 1))),
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
    const answer = await this.#get("query", { query, time: String(at.getTime() / 1000) });
    return seriesOf(answer, { expected: "vector", url: this.url, path: "query" });
  }

  #where(path: string): string {
    return `Prometheus at ${this.url} answered ${path}`;
  }

  async #get(path: string, params: Record<string, string>): Promise<unknown> {
    const timeoutMs = this.#options.timeoutMs ?? 60_000;
    const signal = AbortSignal.timeout(timeoutMs);
    const late = () =>
      new Error(
        `Prometheus at ${this.url} did not answer ${path} within ${formatDuration(timeoutMs)}`,
      );
    let response: Response;
    let text: string;
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
      text = await readText(response, MAX_ANSWER_BYTES);
    } catch (err) {
      if (signal.aborted) throw late();
      if ((err as Error).name === "RangeError") {
        throw new Error(`${this.#where(path)} with more than ${MAX_ANSWER_BYTES >> 20} MiB`);
      }
      // Deno's own message ("fetch failed") says less than its cause; either may hold the URL.
      const cause = (err as Error).cause instanceof Error ? (err as Error).cause as Error : err;
      const message = oneLine((cause as Error).message).replaceAll(this.#base, this.url);
      throw new Error(`Cannot reach Prometheus at ${this.url}: ${message}`);
    }
    if (response.status === 401 || response.status === 403) {
      throw this.#refused(path, response.status);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new Error(
        `${this.#where(path)} with HTTP ${response.status} and no JSON: ${quote(text)}`,
      );
    }
    const status = (answer as { status?: unknown } | null)?.status;
    if (typeof answer !== "object" || answer === null || Array.isArray(answer) || !status) {
      if (!response.ok) throw this.#refused(path, response.status);
      // Valid JSON other than an object: on one line, it holds no control characters.
      throw new Error(
        `${this.#where(path)} with ${clip(oneLine(text), 200)}, not an API answer`,
      );
    }
    if (status !== "success") {
      const { errorType, error } = answer as { errorType?: unknown; error?: unknown };
      const type = typeof errorType === "string" && /^\w+$/.test(errorType) ? `${errorType}: ` : "";
      throw new Error(
        `Prometheus at ${this.url} refused ${path} "${params.query}": ${type}${
          error === undefined ? `HTTP ${response.status}` : quote(String(error))
        }`,
      );
    }
    if (!response.ok) throw this.#refused(path, response.status);
    return answer;
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

/** A response's body as text, refused (a RangeError) beyond `max` bytes. */
async function readText(response: Response, max: number): Promise<string> {
  if (!response.body) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of response.body) {
    size += part.length;
    // Leaving the loop cancels the body.
    if (size > max) throw new RangeError(`More than ${max} bytes`);
    parts.push(part);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(all);
}

/** Text from the server, on one line, short, its control characters escaped. */
function quote(text: string): string {
  return JSON.stringify(clip(oneLine(text), 200));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** An answer's `data.result` as series, each field checked; throws naming the first bad one. */
function seriesOf(
  answer: unknown,
  options: { expected: "matrix" | "vector"; url: string; path: string },
): Series[] {
  const { expected, url, path } = options;
  const data = (answer as { data?: { resultType?: unknown; result?: unknown } }).data;
  const type = data?.resultType;
  if (type !== expected) {
    throw new Error(
      `Prometheus at ${url} answered ${path} with ${
        type === undefined ? "no resultType" : `a ${quote(String(type))}`
      }, expected a "${expected}"`,
    );
  }
  const bad = (field: string, wants: string, got: unknown) =>
    new Error(
      `Cannot read the answer of Prometheus at ${url} to ${path}: field "${field}" must be ${wants}, got ${
        describe(got)
      }`,
    );
  const result = data!.result;
  if (!Array.isArray(result)) throw bad("data.result", "an array", result);
  return result.map((r: unknown, i) => {
    const at = `data.result[${i}]`;
    if (!isObject(r)) throw bad(at, "an object", r);
    const metric = r.metric ?? {};
    if (!isObject(metric)) throw bad(`${at}.metric`, "an object", metric);
    for (const [k, v] of Object.entries(metric)) {
      if (typeof v !== "string") throw bad(`${at}.metric.${k}`, "a string", v);
    }
    const raw = expected === "matrix" ? r.values : [r.value];
    const field = expected === "matrix" ? `${at}.values` : `${at}.value`;
    if (!Array.isArray(raw)) throw bad(field, "an array", raw);
    const points = raw.map((p: unknown, j): [number, number] => {
      const f = expected === "matrix" ? `${field}[${j}]` : field;
      if (
        !Array.isArray(p) || typeof p[0] !== "number" || !Number.isFinite(p[0]) ||
        typeof p[1] !== "string"
      ) {
        throw bad(f, '[time, "value"]', p);
      }
      const value = sampleValue(p[1]);
      if (value === undefined) {
        throw bad(`${f}[1]`, 'a number such as "1.5", "NaN" or "+Inf"', p[1]);
      }
      return [Math.round(p[0] * 1000), value];
    });
    return { labels: { ...metric } as Record<string, string>, points };
  });
}

/** A sample value as Prometheus writes it (Go's float formatting, `NaN`, `+Inf`, `-Inf`). */
function sampleValue(text: string): number | undefined {
  if (text === "NaN") return NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? quote(value) : String(value);
}

/** One key per label set, whatever the order of its labels. */
export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}
