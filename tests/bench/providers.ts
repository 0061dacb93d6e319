// What each replacement provider costs a running node-heal: the resident memory of `main.ts serve`
// (the production entry point, with the production V8 flags) once ready against an embedded
// cluster, with a policy that replaces through each provider, beside the default policy. A
// provider's module and SDK load only when a rule names it, so the default pays for none.
// `deno task bench:providers`; three rounds, each provider in its own process.
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const rule = (replace: string) =>
  `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon, drain, replace], replace: ${replace} }]`;
const POLICIES: Record<string, string> = {
  default: "",
  karpenter: rule("{ provider: karpenter }"),
  "cluster-api": rule("{ provider: cluster-api }"),
  "delete-node": rule("{ provider: delete-node }"),
  "aws-asg": rule('{ provider: aws-asg, region: us-east-1, endpoint: "http://127.0.0.1:9" }'),
  "gcp-mig": rule('{ provider: gcp-mig, project: my-project, endpoint: "http://127.0.0.1:9" }'),
};

async function rssMiB(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Math.round(Number(new TextDecoder().decode(out.stdout).trim()) / 1024);
}

await using cluster = await startEmbeddedCluster();
const dir = await Deno.makeTempDir({ prefix: "node-heal-providers-" });
await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
const results: Record<string, number[]> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, policy] of Object.entries(POLICIES)) {
    await Deno.writeTextFile(`${dir}/policy.yaml`, policy);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--v8-flags=--max-semi-space-size=2,--max-old-space-size=192",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        MAIN,
        "serve",
        `--kubeconfig=${dir}/kubeconfig`,
        `--config=${dir}/policy.yaml`,
        "--listen=127.0.0.1:0",
        "--log-format=json",
      ],
      stdout: "piped",
      stderr: "null",
      env: { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench" },
    }).spawn();
    let out = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (out.includes('"Ready:') || out.includes("Ready: ")) break;
    }
    // Settled: the first list's garbage collected, as a quiet service's would be.
    await new Promise((r) => setTimeout(r, 1500));
    (results[name] ??= []).push(await rssMiB(child.pid));
    child.kill("SIGTERM");
    await child.status;
  }
}
await Deno.remove(dir, { recursive: true });
console.log("provider       RSS once ready (MiB), 3 runs");
for (const [name, values] of Object.entries(results)) {
  console.log(`${name.padEnd(14)} ${values.join(", ")}`);
}
