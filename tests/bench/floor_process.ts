// The floor of node-heal's CPU per cordon: a bare process making the cluster requests a cordon
// makes and nothing more (floor_cordons.ts, the same-requests floor). Run by bench.ts with
// node-heal's V8 flags and permissions:
//   deno run --allow-net --allow-read --allow-env floor_process.ts KUBECONFIG PORT
import { connect } from "../../lib/act/kube/client.ts";
import { floorCordons } from "./floor_cordons.ts";

const [kubeconfigPath, port] = Deno.args;
const { client } = connect({ kubeconfigPath });
const floor = await floorCordons(client, "same");
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, async (req) => {
  if (new URL(req.url).pathname === "/readyz") return new Response("ok");
  await floor.cordon(await req.json());
  return new Response("ok");
});
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
