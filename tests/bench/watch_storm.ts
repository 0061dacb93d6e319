// `deno run --allow-net=127.0.0.1,localhost --allow-read --allow-env tests/bench/watch_storm.ts
// [--seconds 10] [--in-band | --http]`: how many full Node lists node-heal's own watch
// (act/kube/node_watch.ts) makes when every Node watch answers 410 Gone, against the embedded
// cluster. Prints the count and the gaps between lists. Not part of the tests: the tests assert
// a bound (tests/integration/kube/node_watch_test.ts), this prints the figures.
import { connect } from "../../lib/act/kube/client.ts";
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";

const args = Deno.args;
const at = args.indexOf("--seconds");
const seconds = at >= 0 ? Number(args[at + 1]) : 10;
const modes = args.includes("--in-band")
  ? [true]
  : args.includes("--http")
  ? [false]
  : [false, true];

for (const inBand of modes) {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  cluster.api.injectFault({ verb: "watch", resource: "nodes", status: 410, inBand });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  let errors = 0;
  const started = performance.now();
  const listedAt: number[] = [];
  const watch = await client.watchNodes({
    listed: () => void listedAt.push(performance.now()),
    upsert() {},
    remove() {},
    recovered() {},
    error: () => void errors++,
  });
  await new Promise((r) => setTimeout(r, seconds * 1000 - (performance.now() - started)));
  await watch.stop();
  await client.close?.();
  const lists = cluster.api.traffic.requests.filter((r) =>
    r.verb === "list" && r.resource === "nodes"
  );
  const watches = cluster.api.traffic.counts()["watch nodes"] ?? 0;
  const gaps = listedAt.slice(1).map((t, i) => ((t - listedAt[i]) / 1000).toFixed(2));
  console.log(
    `${
      inBand ? "in-band ERROR 410" : "HTTP 410"
    }: ${lists.length} Node lists, ${watches} watches, ` +
      `${errors} handlers.error in ${seconds} s; first gaps between lists (s): ` +
      gaps.slice(0, 10).join(", "),
  );
}
