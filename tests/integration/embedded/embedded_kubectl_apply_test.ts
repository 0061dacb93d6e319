// kubectl create, apply and replace, with client-side validation on (the default), against the
// embedded API server and the OpenAPI documents of lib/embedded/http/openapi.ts.
import assert from "node:assert/strict";
import { ApiServer } from "../../../lib/embedded/http/api_server.ts";
import { kubeconfigFor } from "../../../lib/embedded/cluster.ts";
import { serveOpenApi } from "../../../lib/embedded/http/openapi.ts";
import { RESOURCES } from "../../../lib/embedded/store/resources.ts";
import { defaultTopology } from "../../../lib/embedded/seed/topology.ts";
import type { KubeObject } from "../../../lib/embedded/store/objects.ts";
import { stringify } from "yaml";
import { KUBECTL, kubectlFor, kubectlVersion, waitFor } from "../../support/helpers.ts";

const version = await kubectlVersion();
if (!version) {
  console.warn(
    `SKIPPED kubectl create/apply/replace tests: "${KUBECTL}" was not found on PATH (install kubectl or set KUBECTL to run them)`,
  );
}
const opts = { ignore: !version };

/** One request as the wrapper saw it. */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string;
}

/** The embedded API server on a free loopback port, recording each request's query. */
async function startServer() {
  const api = new ApiServer();
  api.seed(defaultTopology());
  const seen: Seen[] = [];
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (addr) => resolve(addr) },
    (req) => {
      const url = new URL(req.url);
      seen.push({
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        contentType: req.headers.get("content-type") ?? "",
      });
      return api.handler(req);
    },
  );
  const addr = await listening;
  return {
    api,
    seen,
    kubeconfig: kubeconfigFor(`http://127.0.0.1:${addr.port}`),
    async [Symbol.asyncDispose]() {
      api.dropWatches();
      await server.shutdown();
    },
  };
}

/** A kubectl bound to one server, with a manifest folder beside its kubeconfig. */
async function kubectlWithManifests(kubeconfig: string) {
  const kubectl = await kubectlFor(kubeconfig);
  /** Writes the objects as a multi-document YAML manifest into the temp folder; returns its path. */
  const manifest = async (name: string, ...objects: KubeObject[]) => {
    const file = `${kubectl.dir}/${name}`;
    await Deno.writeTextFile(file, objects.map((o) => stringify(o)).join("---\n"));
    return file;
  };
  return { ...kubectl, run: kubectl.output, manifest };
}

function pod(name: string, labels: Record<string, string>, image = "busybox:1.36"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: {
      containers: [
        { name: "main", image, ports: [{ containerPort: 8080 }] },
        { name: "sidecar", image: "busybox:1.36" },
      ],
    },
  };
}

function deployment(name: string, labels: Record<string, string>, replicas = 2): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image: "busybox:1.36" }] },
      },
    },
  };
}

function node(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels } };
}

function labelsOf(obj: KubeObject | undefined): Record<string, string> {
  return obj?.metadata?.labels ?? {};
}

Deno.test(
  `kubectl ${
    version ?? ""
  } create -f validates through /openapi/v3 and creates a Pod and a Deployment`,
  opts,
  async () => {
    await using server = await startServer();
    await using kubectl = await kubectlWithManifests(server.kubeconfig);
    const file = await kubectl.manifest(
      "create.yaml",
      pod("made", { app: "made" }),
      deployment("made", { tier: "one" }),
    );
    const { stdout } = await kubectl.run("create", "-f", file);
    assert.match(stdout, /pod\/made created/);
    assert.match(stdout, /deployment.apps\/made created/);
    assert.deepEqual(labelsOf(server.api.read("Pod", "made", "default")), { app: "made" });
    assert.equal(
      (server.api.read("Deployment", "made", "default")?.spec as { replicas: number }).replicas,
      2,
    );
    assert.ok(server.seen.some((r) => r.path === "/openapi/v3"));
    const posts = server.seen.filter((r) => r.method === "POST");
    assert.equal(posts.length, 2);
    for (const p of posts) assert.equal(p.query.get("fieldValidation"), "Strict");
  },
);

Deno.test(
  "kubectl apply -f twice creates, then strategic-merge patches changed labels of a Pod, a Deployment and a Node",
  opts,
  async () => {
    await using server = await startServer();
    await using kubectl = await kubectlWithManifests(server.kubeconfig);
    const { api } = server;
    const first = await kubectl.manifest(
      "first.yaml",
      pod("applied", { app: "applied", stage: "one" }),
      deployment("applied", { tier: "one" }),
      node("heal-worker2", { "node-heal.test/pool": "a" }),
    );
    const created = await kubectl.run("apply", "-f", first);
    assert.match(created.stdout, /pod\/applied created/);
    assert.match(created.stdout, /deployment.apps\/applied created/);
    assert.match(created.stdout, /node\/heal-worker2 configured/);

    const second = await kubectl.manifest(
      "second.yaml",
      pod("applied", { app: "applied", stage: "two" }, "busybox:1.37"),
      deployment("applied", { tier: "two" }, 3),
      node("heal-worker2", { "node-heal.test/pool": "b" }),
    );
    const before = server.seen.length;
    const patched = await kubectl.run("apply", "-f", second);
    assert.match(patched.stdout, /pod\/applied configured/);
    assert.match(patched.stdout, /deployment.apps\/applied configured/);
    assert.match(patched.stdout, /node\/heal-worker2 configured/);
    assert.doesNotMatch(patched.stderr, /error calculating patch/);

    const patches = server.seen.slice(before).filter((r) => r.method === "PATCH");
    assert.equal(patches.length, 3);
    for (const p of patches) {
      assert.equal(p.contentType, "application/strategic-merge-patch+json");
      assert.equal(p.query.get("fieldValidation"), "Strict");
    }

    const stored = await waitFor("the second apply to be stored", () => {
      const p = api.read("Pod", "applied", "default");
      return labelsOf(p).stage === "two" ? p : undefined;
    });
    assert.deepEqual(labelsOf(stored), { app: "applied", stage: "two" });
    // The containers list merged by name: the changed image, both containers kept.
    const containers = (stored.spec as { containers: { name: string; image: string }[] })
      .containers;
    assert.deepEqual(containers.map((c) => [c.name, c.image]), [
      ["main", "busybox:1.37"],
      ["sidecar", "busybox:1.36"],
    ]);
    const dep = api.read("Deployment", "applied", "default");
    assert.deepEqual(labelsOf(dep), { tier: "two" });
    assert.equal((dep?.spec as { replicas: number }).replicas, 3);
    const n = api.read("Node", "heal-worker2");
    assert.equal(labelsOf(n)["node-heal.test/pool"], "b");
    // The labels the manifest does not mention are left alone.
    assert.equal(labelsOf(n)["kubernetes.io/hostname"], "heal-worker2");
  },
);

Deno.test(
  "kubectl replace -f puts the whole object and stores the changed label",
  opts,
  async () => {
    await using server = await startServer();
    await using kubectl = await kubectlWithManifests(server.kubeconfig);
    await kubectl.run(
      "create",
      "-f",
      await kubectl.manifest("v1.yaml", deployment("swapped", { tier: "one" })),
    );
    const { stdout } = await kubectl.run(
      "replace",
      "-f",
      await kubectl.manifest("v2.yaml", deployment("swapped", { tier: "two" })),
    );
    assert.match(stdout, /deployment.apps\/swapped replaced/);
    const puts = server.seen.filter((r) => r.method === "PUT");
    assert.equal(puts.length, 1);
    assert.equal(puts[0].query.get("fieldValidation"), "Strict");
    assert.deepEqual(labelsOf(server.api.read("Deployment", "swapped", "default")), {
      tier: "two",
    });
  },
);

Deno.test("kubectl create --dry-run=server stores nothing", opts, async () => {
  await using server = await startServer();
  await using kubectl = await kubectlWithManifests(server.kubeconfig);
  const file = await kubectl.manifest("dry.yaml", deployment("dry", { tier: "one" }));
  const { stdout } = await kubectl.run("create", "--dry-run=server", "-f", file);
  assert.match(stdout, /deployment.apps\/dry created \(server dry run\)/);
  assert.equal(server.api.read("Deployment", "dry", "default"), undefined);
});

Deno.test(
  "kubectl create -f of a kind: List validates on the client with /openapi/v2",
  opts,
  async () => {
    await using server = await startServer();
    await using kubectl = await kubectlWithManifests(server.kubeconfig);
    const file = await kubectl.manifest("list.yaml", {
      apiVersion: "v1",
      kind: "List",
      items: [pod("listed", { app: "listed" })],
    });
    assert.match((await kubectl.run("create", "-f", file)).stdout, /pod\/listed created/);
    assert.ok(server.seen.some((r) => r.path === "/openapi/v2"));
    assert.ok(server.api.read("Pod", "listed", "default"));
  },
);

Deno.test("serveOpenApi lists one hashed document per group version", async () => {
  const root = serveOpenApi(new URL("http://x/openapi/v3"))!;
  assert.equal(root.headers.get("content-type"), "application/json");
  const { paths } = await root.json() as { paths: Record<string, { serverRelativeURL: string }> };
  const expected = new Set(
    RESOURCES.map((r) => r.group === "" ? `api/${r.version}` : `apis/${r.group}/${r.version}`),
  );
  assert.deepEqual(new Set(Object.keys(paths)), expected);
  for (const [gv, { serverRelativeURL }] of Object.entries(paths)) {
    assert.match(serverRelativeURL, new RegExp(`^/openapi/v3/${gv}\\?hash=[0-9A-F]{128}$`));
    const doc = serveOpenApi(new URL(`http://x${serverRelativeURL}`))!;
    assert.equal(doc.status, 200);
    assert.equal(doc.headers.get("cache-control"), "public, immutable");
    const again = serveOpenApi(new URL(`http://x${serverRelativeURL}`))!;
    assert.equal(await doc.text(), await again.text());
  }
  const stale = serveOpenApi(new URL("http://x/openapi/v3/apis/apps/v1?hash=0"))!;
  assert.equal(stale.status, 301);
  assert.equal(stale.headers.get("location"), paths["apis/apps/v1"].serverRelativeURL);
  assert.equal(serveOpenApi(new URL("http://x/openapi/v3/apis/batch/v1")), undefined);
  assert.equal(serveOpenApi(new URL("http://x/api/v1/pods")), undefined);
});

Deno.test("serveOpenApi declares fieldValidation on the writes of every served kind", async () => {
  const root = await serveOpenApi(new URL("http://x/openapi/v3"))!.json() as {
    paths: Record<string, { serverRelativeURL: string }>;
  };
  type Op = {
    parameters?: { name: string }[];
    requestBody?: { content: Record<string, unknown> };
    "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string };
  };
  const ops: Op[] = [];
  for (const { serverRelativeURL } of Object.values(root.paths)) {
    const doc = await serveOpenApi(new URL(`http://x${serverRelativeURL}`))!.json() as {
      paths: Record<string, Record<string, Op>>;
    };
    for (const item of Object.values(doc.paths)) {
      for (const method of ["post", "put", "patch"]) if (item[method]) ops.push(item[method]);
    }
  }
  for (const r of RESOURCES) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const writes = ops.filter((o) =>
      JSON.stringify(o["x-kubernetes-group-version-kind"]) === JSON.stringify(gvk)
    );
    assert.ok(writes.length >= 3, `${r.kind} of ${r.group}/${r.version} has its writes`);
    for (const o of writes) {
      assert.ok(o.parameters?.some((p) => p.name === "fieldValidation"), `${r.kind}`);
    }
    // Custom resources (NodeClaims) take no strategic merge patch, as a CRD's document says.
    assert.equal(
      writes.some((o) => o.requestBody?.content["application/strategic-merge-patch+json"]),
      !r.custom,
      `${r.kind}: strategic merge patch`,
    );
  }
});
