// What a Compute Engine answer of MB megabytes costs the gcp-mig provider under the production heap:
//   deno run --v8-flags=--max-semi-space-size=2,--max-old-space-size=192 -A tests/bench/gcp_answer.ts 100
// Prints one JSON line (RSS of this process before and at its peak, bytes pulled, the error).
import * as gcp from "../../lib/act/replace/gcp_mig.ts";
import { FakeClient } from "../fakes/fake_client.ts";
const mb = Number(Deno.args[0] ?? "100");
let pulled = 0;
const chunk = new Uint8Array(64 * 1024).fill(0x20);
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (pulled >= mb * 1024 * 1024) return c.close();
          pulled += chunk.byteLength;
          c.enqueue(chunk);
        },
      }, { highWaterMark: 0 }),
      { headers: { "content-type": "application/json" } },
    ),
);
const rss = () => Deno.memoryUsage().rss / 1048576;
const before = rss();
const provider = await gcp.create(
  {
    provider: "gcp-mig",
    timeoutMs: 60_000,
    endpoint: `http://127.0.0.1:${server.addr.port}/compute/v1/`,
  } as never,
  {
    client: new FakeClient(),
    env: () => undefined,
    tokens: { token: () => Promise.resolve("t") },
  } as never,
  "rules[0].replace",
);
let peak = before;
const timer = setInterval(() => peak = Math.max(peak, rss()), 50);
const err = await provider.start(
  { node: "n", providerID: "gce://p/europe-west1-b/vm", labels: {}, annotations: {} } as never,
).then(() => undefined, (e) => e);
clearInterval(timer);
peak = Math.max(peak, rss());
console.log(
  JSON.stringify({
    mb,
    rss_before_mib: +before.toFixed(1),
    rss_peak_mib: +peak.toFixed(1),
    growth: +(peak - before).toFixed(1),
    pulled,
    error: String(err?.message ?? err).slice(0, 200),
  }),
);
await server.shutdown();
