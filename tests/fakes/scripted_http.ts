// What the notification receivers' fakes (Slack, PagerDuty, a webhook) share: a loopback server
// that records each request with its arrival time, and a script of misbehaviour (429 with a
// Retry-After, 500, a hang) played before the fake answers as the real service would.

/** One scripted answer: a status (with its Retry-After), or no answer at all until the caller gives up. */
export type Scripted = { status: number; retryAfter?: string; body?: string } | "hang";

/** One request as the fake saw it. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** `performance.now()` at arrival. */
  at: number;
  /** For a hang, when the server saw the caller give up (best effort: Deno may not tell). */
  abortedAt?: number;
  /** The status answered, or "hang". */
  answer: number | "hang";
}

export interface ScriptedFake {
  url: string;
  received: Received[];
  /** Answers to play, first to last, before the fake's own. */
  script: Scripted[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a fake on loopback; `answer` is the real service's answer to a request that got through. */
export function startScripted(
  answer: (req: Request, body: string) => Response | Promise<Response>,
): ScriptedFake {
  const received: Received[] = [];
  const script: Scripted[] = [];
  const closing = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const at = performance.now();
      const body = await req.text();
      const record: Received = {
        path: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
        body,
        at,
        answer: "hang",
      };
      received.push(record);
      const next = script.shift();
      if (next === "hang") {
        await new Promise<void>((resolve) => {
          const done = () => {
            record.abortedAt ??= performance.now();
            resolve();
          };
          req.signal.addEventListener("abort", done, { once: true });
          closing.signal.addEventListener("abort", done, { once: true });
        });
        return new Response("too late", { status: 504 });
      }
      if (next) {
        record.answer = next.status;
        const headers: Record<string, string> = next.retryAfter === undefined
          ? {}
          : { "retry-after": next.retryAfter };
        return new Response(next.body ?? `scripted ${next.status}`, {
          status: next.status,
          headers,
        });
      }
      const res = await answer(req, body);
      record.answer = res.status;
      return res;
    },
  );
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    script,
    close,
    [Symbol.asyncDispose]: close,
  };
}
