// A fake Prometheus on loopback for the backtest's tests: each request to its query API recorded
// (path, form, headers), and answered by the test's function, which may misbehave at will.

/** One request as the fake saw it. */
export interface PrometheusRequest {
  /** `query` or `query_range`. */
  path: string;
  form: URLSearchParams;
  headers: Headers;
}

/** A running fake. */
export interface FakePrometheus {
  url: string;
  requests: PrometheusRequest[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a fake whose answer to each `/api/v1/<path>` request is `answer`'s; `signal` aborts at its close. */
export function startFakePrometheus(
  answer: (request: PrometheusRequest, signal: AbortSignal) => Response | Promise<Response>,
): FakePrometheus {
  const requests: PrometheusRequest[] = [];
  const closing = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const request = {
      path: new URL(req.url).pathname.replace(/^.*\/api\/v1\//, ""),
      form: new URLSearchParams(await req.text()),
      headers: req.headers,
    };
    requests.push(request);
    return await answer(request, closing.signal);
  });
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A successful answer of the query API. */
export function success(resultType: string, result: unknown): Response {
  return Response.json({ status: "success", data: { resultType, result } });
}

/** The steps of a range request: its start, end and step in seconds, as asked. */
export function steps(form: URLSearchParams): number[] {
  const start = Number(form.get("start")), end = Number(form.get("end"));
  const step = Number(form.get("step"));
  const out: number[] = [];
  for (let i = 0; start + i * step <= end; i++) out.push(start + i * step);
  return out;
}
