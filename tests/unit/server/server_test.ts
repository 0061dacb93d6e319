// The HTTP handler called directly, as Alertmanager's requests reach it: no server, no sockets. The
// pipeline behind it runs against the in-memory client, so a valid notification acts on a Node.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { createHandler, type ServerDeps } from "../../../lib/server/server.ts";
import { FakeClient, workerNode } from "../../fakes/fake_client.ts";
import { pipelineOver } from "../../support/unit_pipeline.ts";
import { notification } from "../../support/alerts.ts";

const TOKEN = "s3cret-token";

function setup(options: Partial<ServerDeps> & { leading?: () => boolean } = {}) {
  const client = new FakeClient({
    nodes: [workerNode("w1", "10.0.0.1"), workerNode("w2", "10.0.0.2")],
  });
  const { index, metrics, events, pipeline } = pipelineOver(client, {
    policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
    leading: options.leading,
  });
  const handler = createHandler({
    handle: (n) => pipeline.handle(n),
    metrics,
    ready: () => true,
    credentials: { bearerTokens: [TOKEN], basicUsers: new Map() },
    status: () => ({ nodes: index.size }),
    ...options,
  });
  return {
    client,
    metrics,
    handler,
    [Symbol.asyncDispose]: async () => {
      await pipeline.stopDrains();
      await events.flush();
    },
  };
}

const FIRING = notification("firing", [{
  labels: { alertname: "NodeDown", instance: "10.0.0.2:9100", heal: "true" },
  fingerprint: "fp-w2",
}]);

function post(
  body: string,
  headers: Record<string, string> = {
    authorization: `Bearer ${TOKEN}`,
    "content-type": "application/json",
  },
): Request {
  return new Request("http://node-heal/webhook", { method: "POST", body, headers });
}

async function answerOf(res: Response): Promise<{ status: string; error?: string }> {
  assert.equal(res.headers.get("content-type"), "application/json");
  return await res.json();
}

Deno.test("a webhook request without credentials is answered 401 with a challenge, and nothing is written", async () => {
  await using f = setup();
  const res = await f.handler(post(JSON.stringify(FIRING), { "content-type": "application/json" }));
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.match((await answerOf(res)).error!, /Unauthorized: this webhook needs/);
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, undefined);
});

Deno.test("a webhook body that is not said to be JSON is answered 415, final for Alertmanager", async () => {
  await using f = setup();
  const res = await f.handler(post(JSON.stringify(FIRING), {
    authorization: `Bearer ${TOKEN}`,
    "content-type": "text/plain",
  }));
  assert.equal(res.status, 415);
  assert.match((await answerOf(res)).error!, /Unsupported content type "text\/plain"/);
});

Deno.test("a webhook body that is not JSON, or not a notification, is answered 400", async () => {
  await using f = setup();
  const notJson = await f.handler(post("{not json"));
  assert.equal(notJson.status, 400);
  assert.match((await answerOf(notJson)).error!, /^Cannot parse payload: body is not JSON/);
  const notNotification = await f.handler(post(JSON.stringify({ alerts: "none" })));
  assert.equal(notNotification.status, 400);
  assert.match((await answerOf(notNotification)).error!, /^Cannot parse payload/);
});

Deno.test("a valid notification is answered 200 with each alert's outcome, and its Node is cordoned", async () => {
  await using f = setup();
  const res = await f.handler(post(JSON.stringify(FIRING)));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.deepEqual(
    body.alerts.map((a: { node: string; outcome: string }) => [a.node, a.outcome]),
    [["w2", "cordon"]],
  );
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, true);
  assert.match(
    (await f.metrics.render()).body,
    /nodeheal_alertmanager_notifications_total\{status="firing",code="200"\} 1/,
  );
});

Deno.test("a notification before the node index has synced is answered 503 with Retry-After", async () => {
  await using f = setup({ ready: () => false });
  const res = await f.handler(post(JSON.stringify(FIRING)));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.match((await answerOf(res)).error!, /^Not ready/);
});

Deno.test("a replica that does not lead answers 503 and closes the connection, so the retry may reach the leader", async () => {
  await using f = setup({ leading: () => false });
  const res = await f.handler(post(JSON.stringify(FIRING)));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("connection"), "close");
  assert.equal(res.headers.get("retry-after"), "10");
  assert.equal((await res.json()).status, "retry");
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, undefined);
});

Deno.test("a webhook request past the in-flight limit is answered 503 Busy", async () => {
  await using f = setup({ maxInFlight: 0 });
  const res = await f.handler(post(JSON.stringify(FIRING)));
  assert.equal(res.status, 503);
  assert.match((await answerOf(res)).error!, /^Busy: 0 webhook requests/);
});

Deno.test("a body arriving while node-heal shuts down is answered 503, to be sent again", async () => {
  await using f = setup({ closing: AbortSignal.abort() });
  const res = await f.handler(post(JSON.stringify(FIRING)));
  assert.equal(res.status, 503);
  assert.match((await answerOf(res)).error!, /^Shutting down/);
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, undefined);
});

Deno.test("a wrong method is answered 405 with Allow, an unknown path 404", async () => {
  await using f = setup();
  const get = await f.handler(new Request("http://node-heal/webhook"));
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  const missing = await f.handler(new Request("http://node-heal/nowhere"));
  assert.equal(missing.status, 404);
  assert.match((await answerOf(missing)).error!, /^Not found: \/nowhere/);
});

Deno.test("health and readiness answer plain text; /status needs the credentials only with --status-auth", async () => {
  await using f = setup({ statusAuth: true });
  const health = await f.handler(new Request("http://node-heal/healthz"));
  assert.equal(await health.text(), "ok\n");
  const ready = await f.handler(new Request("http://node-heal/readyz"));
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  const anonymous = await f.handler(new Request("http://node-heal/status"));
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const status = await f.handler(
    new Request("http://node-heal/status", { headers: { authorization: `Bearer ${TOKEN}` } }),
  );
  assert.deepEqual(await status.json(), { nodes: 2 });
  await using open = setup();
  const unguarded = await open.handler(new Request("http://node-heal/status"));
  assert.equal(unguarded.status, 200);
  await unguarded.body?.cancel();
});
