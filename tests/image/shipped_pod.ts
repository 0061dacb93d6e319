// A pod of the shipped Deployment, as far as node-heal can tell: the manifest's args, env and
// mounts, its service account's files at the kubelet's paths, and an API server behind TLS that
// its in-cluster configuration finds through KUBERNETES_SERVICE_HOST. It runs in the sandbox with
// the image's permissions (sandbox.ts), so every file it reads is read as a pod would read it.
import { parse } from "yaml";
import { type EmbeddedCluster, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { manifest, waitFor } from "../support/helpers.ts";
import { stop } from "../support/processes.ts";
import { makeCertificates, tlsFront } from "../support/tls.ts";
import { type Files, place, projected, startShipped } from "./sandbox.ts";

export const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

interface Container {
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } }; value?: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}

/** The Deployment's container, its volumes, and the policy its ConfigMap holds. */
async function shippedDeployment() {
  const docs = await manifest("webhook-deployment.yaml");
  const deploy = docs.find((d) => d.kind === "Deployment") as {
    metadata: { namespace: string };
    spec: {
      template: {
        spec: {
          containers: Container[];
          volumes: {
            name: string;
            configMap?: { name: string };
            secret?: { secretName: string };
          }[];
        };
      };
    };
  };
  const pod = deploy.spec.template.spec;
  const configMaps = new Map(
    docs.filter((d) => d.kind === "ConfigMap").map((d) => [
      (d.metadata as { name: string }).name,
      d.data as Record<string, string>,
    ]),
  );
  return { namespace: deploy.metadata.namespace, container: pod.containers[0], pod, configMaps };
}

export interface PodOptions {
  /** The policy in the ConfigMap's place (the shipped one by default): its YAML, or made from it. */
  policy?: string | ((shipped: Record<string, unknown>) => Record<string, unknown>);
  /** More files the pod mounts, at their absolute paths. */
  files?: Files;
  /** More environment variables (a cloud's credentials). */
  env?: Record<string, string>;
  /** More serve flags. */
  args?: string[];
  /** The cluster (a cloud's, tests/support/clouds.ts); else a kind-like one of its own. */
  cluster?: EmbeddedCluster;
  /** Serve TLS with a certificate mounted at /etc/node-heal/tls (docs/security.md). */
  tls?: boolean;
  /**
   * Internet services the pod reaches by name on 443, each answered by the test's upstream instead
   * (the pod's /etc/hosts names 127.0.0.1, and it trusts the test's CA through DENO_CERT).
   */
  internet?: Record<string, string>;
}

/** The webhook token the pod's Secret holds. */
export const WEBHOOK_TOKEN = "a-webhook-token-of-the-secret";

/** A shipped pod against an embedded cluster behind TLS; `url` is its webhook's base URL. */
export async function startShippedPod(options: PodOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-pod-" });
  const cleanups: (() => Promise<unknown>)[] = [() => Deno.remove(dir, { recursive: true })];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const internet = Object.entries(options.internet ?? {});
    await makeCertificates(dir, internet.map(([name]) => name));
    const cluster = options.cluster ?? await startEmbeddedCluster({});
    if (!options.cluster) cleanups.push(() => cluster.close());
    const front = tlsFront(dir, cluster.url);
    cleanups.push(() => front[Symbol.asyncDispose]());
    for (const [, upstream] of internet) {
      const site = tlsFront(dir, upstream, 443);
      cleanups.push(() => site[Symbol.asyncDispose]());
    }
    const ca = await Deno.readTextFile(`${dir}/ca.crt`);
    const { namespace, container, pod, configMaps } = await shippedDeployment();
    const files: Files = {
      ...projected(SERVICE_ACCOUNT, { token: "a-service-account-token", "ca.crt": ca, namespace }),
    };
    for (const mount of container.volumeMounts) {
      const volume = pod.volumes.find((v) => v.name === mount.name)!;
      if (volume.configMap) {
        const data = { ...configMaps.get(volume.configMap.name)! };
        if (options.policy && data["policy.yaml"] !== undefined) {
          data["policy.yaml"] = typeof options.policy === "string"
            ? options.policy
            : JSON.stringify(options.policy(parse(data["policy.yaml"])));
        }
        Object.assign(files, projected(mount.mountPath, data));
      } else if (volume.secret?.secretName === "node-heal-webhook") {
        Object.assign(files, projected(mount.mountPath, { token: WEBHOOK_TOKEN }));
      } else throw new Error(`a volume the test does not make: ${mount.name}`);
    }
    const args = container.args.filter((a) => a !== "serve" && !a.startsWith("--listen="));
    if (options.tls) {
      Object.assign(
        files,
        projected("/etc/node-heal/tls", {
          "tls.crt": await Deno.readTextFile(`${dir}/tls.crt`),
          "tls.key": await Deno.readTextFile(`${dir}/tls.key`),
        }),
      );
      args.push("--tls-cert=/etc/node-heal/tls/tls.crt", "--tls-key=/etc/node-heal/tls/tls.key");
    }
    if (internet.length > 0) {
      files["/etc/hosts"] = `${await Deno.readTextFile("/etc/hosts")}\n` +
        internet.map(([name]) => `127.0.0.1 ${name}\n`).join("");
    }
    Object.assign(files, options.files ?? {});
    await place(`${dir}/root`, files);
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(front.port),
      ...(internet.length > 0 ? { DENO_CERT: `${dir}/ca.crt` } : {}),
      ...options.env,
    };
    for (const e of container.env) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] = e.value ??
        (field === "metadata.name"
          ? "node-heal-7d9f8-abcde"
          : field === "metadata.namespace"
          ? namespace
          : "");
    }
    const p = startShipped(`${dir}/root`, env, [
      "--listen=127.0.0.1:0",
      ...args,
      // A new install waits a lease duration before anyone leads (docs/deploying.md): shorter here.
      "--lease-duration=2s",
      "--renew-deadline=1500ms",
      "--retry-period=500ms",
      ...options.args ?? [],
    ]);
    cleanups.push(() => stop(p));
    const client = Deno.createHttpClient({ caCerts: [ca] });
    cleanups.push(() => Promise.resolve(client.close()));
    // A process that ends says why, at once.
    const ended = p.child.status.then(async (status): Promise<never> => {
      throw new Error(`serve ended (${status.code}): ${(await p.stderr).slice(-2000)}`);
    });
    const started = await Promise.race([
      waitFor(
        "the start-up line",
        () => p.out.records.find((r) => String(r.message).includes("listening on")),
        20_000,
      ),
      ended,
    ]);
    const url = (started.properties as { url: string }).url;
    const fetchPod = (path: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, { ...init, client } as RequestInit);
    await waitFor("a leader that is ready", async () => {
      const r = await fetchPod("/metrics");
      return r.ok && /^nodeheal_leader 1$/m.test(await r.text());
    }, 20_000);
    return {
      url,
      cluster,
      process: p,
      /** waitFor, whose timeout says the pod's last log lines (what went wrong in there). */
      waitFor: async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>) => {
        try {
          return await waitFor(what, probe, 20_000);
        } catch (e) {
          const last = p.out.records.slice(-8).map((r) => JSON.stringify(r).slice(0, 600));
          throw new Error(`${(e as Error).message}\nThe pod's last log lines:\n${last.join("\n")}`);
        }
      },
      /** A request to the pod over its own TLS when it serves TLS (trusting the test's CA). */
      fetch: fetchPod,
      /** Posts an Alertmanager notification with the Secret's bearer token. */
      post: (body: unknown) =>
        fetchPod("/webhook", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${WEBHOOK_TOKEN}` },
          body: JSON.stringify(body),
        }),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}
