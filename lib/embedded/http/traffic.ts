/** One request the embedded API server answered, as tests and benchmarks read them back. */
export interface RequestRecord {
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection; or `discovery`. */
  verb: string;
  /** Plural resource (`nodes`), empty for discovery and other non-resource paths. */
  resource: string;
  /** API group, empty for the core group. */
  group: string;
  subresource: string;
  namespace: string;
  name: string;
  method: string;
  path: string;
  code: number;
  bytesIn: number;
  /** Bytes of the response body; for a watch, they grow while the stream is open. */
  bytesOut: number;
  userAgent: string;
}

/** Which requests a fault applies to; an absent field matches every request. */
export interface FaultMatch {
  verb?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A fault to inject: an error status, a delay, or both, for matching requests. */
export interface FaultRule extends FaultMatch {
  /** HTTP status to answer with instead of serving the request (500, 409, 429, ...). */
  status?: number;
  /** Status reason; defaults from the code (InternalError, Conflict, TooManyRequests, ...). */
  reason?: string;
  message?: string;
  /** Sent as `Retry-After` and in `details.retryAfterSeconds` (with 429 and 5xx). */
  retryAfterSeconds?: number;
  /**
   * For a watch: answer 200 and send the error as the stream's one `ERROR` event, then end it,
   * as the real server does for a resourceVersion too old (410) or a failure mid-watch.
   */
  inBand?: boolean;
  /** Delay before the request is served (or failed). */
  latencyMs?: number;
  /** Share of matching requests affected, 0 to 1; default 1. */
  rate?: number;
  /** How many matching requests it affects before it retires itself; default unlimited. */
  times?: number;
}

/** What a fault decided for one request. */
export interface FaultOutcome {
  latencyMs: number;
  error?: {
    status: number;
    reason: string;
    message: string;
    retryAfterSeconds?: number;
    /** Sent as a watch's `ERROR` event rather than as the HTTP status (see {@link FaultRule.inBand}). */
    inBand?: boolean;
  };
}

/** Records kept at most, so a long-running dev server does not grow without bound. */
const MAX_RECORDS = 200_000;

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

const MATCH_KEYS: (keyof FaultMatch)[] = ["verb", "resource", "subresource", "namespace", "name"];

function matches(rule: FaultMatch, req: FaultMatch): boolean {
  return MATCH_KEYS.every((k) => rule[k] === undefined || rule[k] === req[k]);
}

/** The request record and the fault rules of one embedded API server. */
export class Traffic {
  /** Every request answered since the last {@link Traffic.reset}, oldest first. */
  readonly requests: RequestRecord[] = [];
  #faults = new Map<number, FaultRule & { remaining: number }>();
  #nextId = 1;
  #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Forgets the recorded requests. */
  reset(): void {
    this.requests.length = 0;
  }

  /** Adds a record and returns it, so a stream can keep counting its bytes; the oldest go past 200,000. */
  record(entry: RequestRecord): RequestRecord {
    if (this.requests.length >= MAX_RECORDS) this.requests.splice(0, MAX_RECORDS / 10);
    this.requests.push(entry);
    return entry;
  }

  /** Counts of recorded requests by `verb resource[/subresource]`, e.g. `{"patch nodes": 1}`. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) {
      const key = `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  /** Injects a fault; returns a function that removes it. */
  inject(rule: FaultRule): () => void {
    const id = this.#nextId++;
    this.#faults.set(id, { ...rule, remaining: rule.times ?? Infinity });
    return () => this.#faults.delete(id);
  }

  /** Removes every injected fault. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /** Decides what the injected faults do to one request (the first matching error wins). */
  decide(req: FaultMatch): FaultOutcome {
    const outcome: FaultOutcome = { latencyMs: 0 };
    for (const [id, rule] of this.#faults) {
      if (!matches(rule, req)) continue;
      if (rule.rate !== undefined && this.#random() >= rule.rate) continue;
      rule.remaining--;
      if (rule.remaining <= 0) this.#faults.delete(id);
      outcome.latencyMs += rule.latencyMs ?? 0;
      if (rule.status !== undefined && !outcome.error) {
        outcome.error = {
          status: rule.status,
          reason: rule.reason ?? REASONS[rule.status] ?? "InternalError",
          message: rule.message ?? `Injected fault: ${rule.status}`,
          retryAfterSeconds: rule.retryAfterSeconds,
          inBand: rule.inBand,
        };
      }
    }
    return outcome;
  }
}
