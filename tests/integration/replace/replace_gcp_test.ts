// The gcp-mig provider (lib/act/replace/gcp_mig.ts) against the Compute Engine fake over real
// HTTP, with Application Default Credentials as google-auth-library finds them: an
// `external_account` credentials file whose token exchange the fake serves, and whose token the
// fake then wants on every call.
import assert from "node:assert/strict";
import * as gcp from "../../../lib/act/replace/gcp_mig.ts";
import { type ProviderModule, ReplaceRefused } from "../../../lib/act/replace/provider.ts";
import type { ReplaceOptions } from "../../../lib/decide/replace_policy.ts";
import { FakeClient } from "../../fakes/fake_client.ts";
import {
  externalAccountCredentials,
  type GcpComputeFake,
  startGcpComputeFake,
} from "../../fakes/gcp_compute.ts";
import { waitFor } from "../../support/wait.ts";
import { Fence, isFenced } from "../../../lib/act/fence.ts";

const module: ProviderModule = gcp;
const FIELD = "rules[0].replace";
const ZONE = "europe-west1-b";
const groups = [
  { name: "workers-igm", zone: ZONE, instances: ["workers-a1b2", "workers-c3d4"] },
  { name: "infra-igm", zone: ZONE, instances: ["infra-x9"] },
];

function target(name: string, project = "heal-project") {
  return {
    node: name,
    providerID: `gce://${project}/${ZONE}/${name}`,
    labels: { "cloud.google.com/gke-nodepool": "workers" },
    annotations: {},
  };
}

/** ADC for the fake: a credentials file in a temporary folder, named by the env dependency. */
async function adc(fake: GcpComputeFake, subjectToken = "fake-subject-token") {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-adc-" });
  await Deno.writeTextFile(`${dir}/subject-token`, subjectToken);
  await Deno.writeTextFile(
    `${dir}/credentials.json`,
    JSON.stringify(externalAccountCredentials(fake, `${dir}/subject-token`)),
  );
  return {
    deps: {
      client: new FakeClient(),
      env: (name: string) =>
        name === "GOOGLE_APPLICATION_CREDENTIALS" ? `${dir}/credentials.json` : undefined,
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function options(fake: GcpComputeFake, more: Partial<ReplaceOptions> = {}): ReplaceOptions {
  return { provider: "gcp-mig", timeoutMs: 60_000, endpoint: `${fake.url}/compute/v1/`, ...more };
}

const recreates = (fake: GcpComputeFake) =>
  fake.calls.filter((c) => c.method === "POST" && c.path.endsWith("/recreateInstances"));

Deno.test("start() recreates the VM once through the group that created it; progress follows the group to done", async () => {
  let clock = 1_800_000_000_000;
  const told: string[] = [];
  await using fake = startGcpComputeFake({
    groups,
    recreateMs: 60_000,
    operationMs: 1_000,
    now: () => clock,
    onRecreate: (name, zone, group) => told.push(`recreate ${zone}/${name} by ${group}`),
    onRecreated: (name) => told.push(`running ${name}`),
  });
  await using creds = await adc(fake);
  const provider = await module.create(options(fake), creds.deps, FIELD);
  const before = fake.instances.find((i) => i.name === "workers-c3d4")!.id;

  const op = await provider.start(target("workers-c3d4"));
  const posts = recreates(fake);
  assert.equal(posts.length, 1);
  assert.equal(
    posts[0].path,
    `/compute/v1/projects/heal-project/zones/${ZONE}/instanceGroupManagers/workers-igm/recreateInstances`,
  );
  assert.deepEqual(posts[0].body, { instances: [`zones/${ZONE}/instances/workers-c3d4`] });
  assert.equal(op.id, fake.operations[0].name);
  assert.match(op.message, /workers-igm/);
  assert.match(op.message, /workers-c3d4/);
  assert.deepEqual(told, [`recreate ${ZONE}/workers-c3d4 by workers-igm`]);
  // The token came from the token exchange; every call to the API carried it (the fake checks).
  assert.equal(fake.calls.filter((c) => c.path === "/v1/token")[0]?.status, 200);
  assert.ok(fake.calls.every((c) => c.status === 200));

  const again = await provider.start(target("workers-c3d4"));
  assert.equal(again.id, "already-recreating:workers-c3d4");
  assert.match(again.message, /already RECREATING/);
  assert.equal(recreates(fake).length, 1);

  assert.equal((await provider.progress!(target("workers-c3d4"), op.id)).state, "running");
  // The operation is DONE once the recreation is scheduled; the VM is still being recreated.
  clock += 1_000;
  const scheduled = await provider.progress!(target("workers-c3d4"), op.id);
  assert.deepEqual(scheduled, { state: "running", message: "RECREATING, VM without status" });
  clock += 59_000;
  await waitFor(
    "the recreation to be done",
    async () => (await provider.progress!(target("workers-c3d4"), op.id)).state === "done",
  );
  assert.equal(
    (await provider.progress!(target("workers-c3d4"), again.id)).state,
    "done",
  );
  assert.notEqual(fake.instances.find((i) => i.name === "workers-c3d4")!.id, before);
  assert.deepEqual(told.at(-1), "running workers-c3d4");
});

Deno.test("a VM in no managed instance group, or not in the rule's group, is refused", async () => {
  await using fake = startGcpComputeFake({ groups, standalone: [{ name: "bastion", zone: ZONE }] });
  await using creds = await adc(fake);
  const provider = await module.create(options(fake), creds.deps, FIELD);
  await assert.rejects(
    provider.start(target("bastion")),
    (e: Error) =>
      e instanceof ReplaceRefused &&
      e.message === 'Cannot replace Node "bastion": VM "bastion" is in no managed instance group ' +
          "(no created-by metadata) and the rule names none",
  );
  const named = await module.create(options(fake, { group: "infra-igm" }), creds.deps, FIELD);
  await assert.rejects(
    named.start(target("workers-a1b2")),
    (e: Error) =>
      e instanceof ReplaceRefused && /is no member of managed instance group "infra-igm"/.test(
        e.message,
      ),
  );
  await assert.rejects(
    provider.start({ ...target("x"), providerID: "aws:///eu-west-1a/i-0abc1234" }),
    (e: Error) =>
      e instanceof ReplaceRefused && /"aws:\/\/\/eu-west-1a\/i-0abc1234"/.test(e.message),
  );
  await assert.rejects(
    provider.start(target("gone")),
    (e: Error) =>
      e instanceof ReplaceRefused && /404 The resource .* was not found/.test(e.message),
  );
  assert.equal(recreates(fake).length, 0);
});

Deno.test("the rule's project, zone and group are used as given, without reading the VM", async () => {
  await using fake = startGcpComputeFake({ groups });
  await using creds = await adc(fake);
  const provider = await module.create(
    options(fake, { project: "heal-project", zone: ZONE, group: "workers-igm" }),
    creds.deps,
    FIELD,
  );
  await provider.start(target("workers-a1b2", "other-project"));
  assert.equal(recreates(fake).length, 1);
  assert.ok(!fake.calls.some((c) => c.path.includes("/instances/")));
});

Deno.test("credentials that cannot be had: create() names an unreadable file; a refused exchange passes", async () => {
  await using fake = startGcpComputeFake({ groups });
  await assert.rejects(
    module.create(options(fake), {
      client: new FakeClient(),
      env: (name) =>
        name === "GOOGLE_APPLICATION_CREDENTIALS" ? "/nonexistent/adc.json" : undefined,
    }, FIELD),
    /Cannot use provider "gcp-mig" \(rules\[0\]\.replace\): GOOGLE_APPLICATION_CREDENTIALS names "\/nonexistent\/adc\.json"/,
  );
  await using creds = await adc(fake, "a-stale-subject-token");
  const provider = await module.create(options(fake), creds.deps, FIELD);
  await assert.rejects(
    provider.start(target("workers-a1b2")),
    (e: Error) =>
      !(e instanceof ReplaceRefused) &&
      /Cannot get a Google access token: .*invalid_grant/.test(e.message),
  );
  assert.ok(fake.calls.every((c) => c.path === "/v1/token"));
});

Deno.test("with no credentials file the metadata server's token is used (GKE Workload Identity), without --allow-sys", async () => {
  await using fake = startGcpComputeFake({ groups });
  const vars = {
    GOOGLE_APPLICATION_CREDENTIALS: undefined,
    GCE_METADATA_HOST: new URL(fake.url).host,
  };
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) {
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  try {
    const provider = await module.create(
      options(fake),
      { client: new FakeClient(), env: () => undefined },
      FIELD,
    );
    await provider.start(target("workers-a1b2"));
    assert.equal(recreates(fake).length, 1);
    assert.ok(
      fake.calls.some((c) =>
        c.path === "/computeMetadata/v1/instance/service-accounts/default/token" &&
        c.status === 200
      ),
    );
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
});

Deno.test("a closed fence refuses the recreate immediately before it is sent: the group is asked nothing", async () => {
  await using fake = startGcpComputeFake({ groups, recreateMs: 60_000, operationMs: 1_000 });
  await using creds = await adc(fake);
  const fence = new Fence();
  let open = false;
  fence.bind({ leading: () => open });
  const provider = await module.create(options(fake), { ...creds.deps, fence }, FIELD);
  const err = await provider.start(target("workers-a1b2")).then(() => undefined, (e) => e);
  assert.ok(isFenced(err), `fenced, got ${err}`);
  assert.ok(!(err instanceof ReplaceRefused), "not a refusal: the next leader may ask");
  assert.equal(recreates(fake).length, 0);
  open = true;
  await provider.start(target("workers-a1b2"));
  assert.equal(recreates(fake).length, 1);
});

Deno.test("a recreate whose access token comes late (a slow metadata server or token exchange) is checked by the fence once it has come, before it is sent", async () => {
  await using fake = startGcpComputeFake({ groups, recreateMs: 60_000, operationMs: 1_000 });
  const fence = new Fence();
  let open = true;
  fence.bind({ leading: () => open });
  let calls = 0;
  // The token of the recreate (the third call: the VM's group, its member, then the recreate)
  // takes a while; this replica stops leading meanwhile.
  const tokens = {
    token: async () => {
      if (++calls === 3) {
        await new Promise((r) => setTimeout(r, 200));
        open = false;
      }
      return fake.token;
    },
  };
  const provider = await gcp.create(
    options(fake),
    { client: new FakeClient(), env: () => undefined, tokens, fence },
    FIELD,
  );
  const err = await provider.start(target("workers-a1b2")).then(() => undefined, (e) => e);
  assert.equal(calls, 3, "the VM's group, its member, then the recreate");
  assert.equal(recreates(fake).length, 0, "the recreate was not sent");
  assert.ok(isFenced(err), `fenced, got ${err}`);
});

/** A Compute Engine that answers every call 200 with `body`'s bytes, made as they are read. */
function answering(body: (pulled: number) => Uint8Array | undefined) {
  const state = { pulled: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          const next = body(state.pulled);
          if (!next) return c.close();
          state.pulled += next.byteLength;
          c.enqueue(next);
        },
      }, { highWaterMark: 0 }),
      { headers: { "content-type": "application/json" } },
    );
  });
  return {
    state,
    endpoint: `http://127.0.0.1:${server.addr.port}/compute/v1/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("an answer of 100 MB is cut at 4 MiB, and one that is not JSON quoted in 80 characters: each a failed attempt that may pass, not a refusal", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  await using huge = answering((n) => n < 100 * 1024 * 1024 ? chunk : undefined);
  await using html = answering((n) =>
    n === 0 ? new TextEncoder().encode(`<html>${"x".repeat(10_000)}</html>`) : undefined
  );
  const deps = {
    client: new FakeClient(),
    env: () => undefined,
    tokens: { token: () => Promise.resolve("t") },
  };
  for (
    const [fake, want] of [[huge, /larger than node-heal reads \(the limit is 4194304 bytes\)/], [
      html,
      /answered what is not JSON: "<html>x{20}/,
    ]] as const
  ) {
    const provider = await gcp.create(
      { provider: "gcp-mig", timeoutMs: 60_000, endpoint: fake.endpoint },
      deps,
      FIELD,
    );
    const err = await provider.start(target("workers-a1b2")).then(() => undefined, (e) => e);
    assert.ok(err instanceof Error && !(err instanceof ReplaceRefused), `got ${err}`);
    assert.match(err.message, want);
    assert.ok(err.message.length < 400, err.message);
  }
  // What was pulled from the 100 MB: the bound and what the sockets buffer, not the answer.
  assert.ok(huge.state.pulled < 16 * 1024 * 1024, `${huge.state.pulled} bytes pulled`);
});
