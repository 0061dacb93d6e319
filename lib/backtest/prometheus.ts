// Prometheus's HTTP API, as much as the backtest reads: range queries (in chunks under the
// server's 11,000 points per series) and instant queries.

/** One series of an answer: its labels, and its samples as [time (ms), value]. */
export interface Series {
  labels: Record<string, string>;
  points: [number, number][];
}

/** Options of {@link PrometheusApi}. */
export interface PrometheusOptions {
  /** Extra request headers (`Authorization`). */
  headers?: Record<string, string>;
  /** How long one request may take (ms, default 60 s). */
  timeoutMs?: number;
}

/** The points a range query asks for at most per chunk (Prometheus refuses over 11,000). */
export const MAX_POINTS = 10_000;

interface ApiAnswer {
  status?: string;
  error?: string;
  data?: {
    resultType?: string;
    result?: { metric?: Record<string, string>; value?: unknown; values?: unknown[] }[];
  };
}

/** A Prometheus server's query API. */
export class PrometheusApi {
  readonly url: string;
  #options: PrometheusOptions;

  constructor(url: string, options: PrometheusOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(
        `Cannot use --prometheus "${url}": expected a URL such as http://prometheus:9090`,
      );
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new Error(`Cannot use --prometheus "${url}": expected an http or https URL`);
    }
    this.url = url.replace(/\/+$/, "");
    this.#options = options;
  }

  /** A range query over [from, to] at `stepMs`, in as many requests as the points need. */
  async queryRange(
    query: string,
    range: { from: Date; to: Date; stepMs: number },
  ): Promise<Series[]> {
    const { stepMs } = range;
    const to = range.to.getTime();
    const bySeries = new Map<string, Series>();
    for (let start = range.from.getTime(); start <= to; start += MAX_POINTS * stepMs) {
      const end = Math.min(start + (MAX_POINTS - 1) * stepMs, to);
      const answer = await this.#get("query_range", {
        query,
        start: String(start / 1000),
        end: String(end / 1000),
        step: String(stepMs / 1000),
      });
      for (const s of this.#series(answer, "matrix")) {
        const key = JSON.stringify(Object.entries(s.labels).sort());
        const known = bySeries.get(key);
        if (known) known.points.push(...s.points);
        else bySeries.set(key, s);
      }
    }
    return [...bySeries.values()];
  }

  /** An instant query at `at`. */
  async query(query: string, at: Date): Promise<Series[]> {
    const answer = await this.#get("query", { query, time: String(at.getTime() / 1000) });
    return this.#series(answer, "vector");
  }

  async #get(path: string, params: Record<string, string>): Promise<ApiAnswer> {
    const url = `${this.url}/api/v1/${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...this.#options.headers,
        },
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 60_000),
      });
    } catch (err) {
      throw new Error(`Cannot reach Prometheus at ${this.url}: ${(err as Error).message}`);
    }
    const text = await response.text();
    let answer: ApiAnswer;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new Error(
        `Prometheus at ${this.url} answered ${response.status} with no JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok || answer.status !== "success") {
      throw new Error(
        `Prometheus at ${this.url} refused ${path} "${params.query}": ${
          answer.error ?? `HTTP ${response.status}`
        }`,
      );
    }
    return answer;
  }

  #series(answer: ApiAnswer, expected: "matrix" | "vector"): Series[] {
    const type = answer.data?.resultType;
    if (type !== expected) {
      throw new Error(`Prometheus at ${this.url} answered a ${type}, expected a ${expected}`);
    }
    return (answer.data?.result ?? []).map((r) => ({
      labels: { ...r.metric },
      points: (expected === "matrix" ? r.values ?? [] : [r.value]).map(point),
    }));
  }
}

function point(p: unknown): [number, number] {
  const [t, v] = p as [number, string];
  return [Math.round(t * 1000), Number(v)];
}
