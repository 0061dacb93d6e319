// The clouds of the whole-ladder tests: an embedded cluster whose Nodes are a cloud's machines, and
// that cloud's fake (tests/fakes/), whose hooks play the cloud's side in the cluster: a terminated
// or recreated machine's Node goes (ApiServer.removeNode), and a launched or recreated machine's
// Node joins, Ready (ApiServer.joinSuccessor). The fakes' clocks move only when a request comes:
// node-heal's progress polls drive them. Each cloud gives the policy that replaces through it and
// the environment of its credentials.
import { type EmbeddedCluster, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import type { KubeObject } from "../../lib/embedded/store/objects.ts";
import { startAwsAutoScalingFake } from "../fakes/aws_autoscaling.ts";
import { externalAccountCredentials, startGcpComputeFake } from "../fakes/gcp_compute.ts";
import { ladderPolicy } from "./ladder.ts";

/** The embedded cluster's workers (not the control plane) with their providerIDs. */
export function workers(cluster: EmbeddedCluster): { node: KubeObject; providerID: string }[] {
  return cluster.api.readAll("Node")
    .filter((n) => !("node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {})))
    .map((node) => ({
      node,
      providerID: String((node.spec as { providerID: string }).providerID),
    }));
}

/** Groups `names` by a key (the zone: a zonal group's machines are in one zone). */
function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...out.get(key(t)) ?? [], t]);
  return out;
}

/** An EKS-like cluster on AWS, and the Auto Scaling fake whose groups hold its workers' instances. */
export async function awsCloud(options: { leaveOut?: string; nodeLagMs?: number } = {}) {
  const cluster = await startEmbeddedCluster({ workers: 3, cloud: "aws" });
  const byInstance = new Map<string, KubeObject>();
  const zones = new Map<string, string>();
  for (const { node, providerID } of workers(cluster)) {
    // aws:///us-east-1a/i-0123...
    const [, zone, instance] = /^aws:\/\/\/([^/]+)\/(i-[0-9a-f]+)$/.exec(providerID)!;
    byInstance.set(instance, node);
    if (node.metadata!.name !== options.leaveOut) zones.set(instance, zone);
  }
  const groups = [...groupBy([...zones], ([, zone]) => zone)].map(([zone, members]) => ({
    name: `workers-${zone}`,
    instances: members.map(([instanceId]) => ({ instanceId, availabilityZone: zone })),
  }));
  /** The instance each group is terminating. */
  const terminating = new Map<string, string>();
  let lag: ReturnType<typeof setTimeout> | undefined;
  const fake = startAwsAutoScalingFake({
    region: "us-east-1",
    groups,
    terminateMs: 300,
    // The instance's Node goes with it (or, with nodeLagMs, that long after its termination
    // ended, as a cloud's node lifecycle controller may notice late)...
    onTerminate: (instance, group) => {
      terminating.set(group, instance);
      if (options.nodeLagMs === undefined) {
        cluster.api.removeNode(byInstance.get(instance)!.metadata!.name!);
      }
    },
    // ...and the group's new instance registers a Node in its place.
    onLaunch: (instance, group) => {
      const predecessor = byInstance.get(terminating.get(group)!)!;
      const join = () => {
        const node = cluster.api.joinSuccessor(predecessor, {
          providerID: `aws:///${zones.get(terminating.get(group)!)}/${instance}`,
        });
        byInstance.set(instance, node);
      };
      if (options.nodeLagMs === undefined) return join();
      lag = setTimeout(() => {
        cluster.api.removeNode(predecessor.metadata!.name!);
        join();
      }, options.nodeLagMs);
    },
  });
  return {
    cluster,
    fake,
    env: { AWS_ACCESS_KEY_ID: fake.accessKeyId, AWS_SECRET_ACCESS_KEY: fake.secretAccessKey },
    /** The `replace:` map's keys of a policy replacing through this cloud (ladderPolicy). */
    replace: `provider: aws-asg, region: us-east-1, endpoint: "${fake.url}"`,
    policy: ladderPolicy(`provider: aws-asg, region: us-east-1, endpoint: "${fake.url}"`),
    async [Symbol.asyncDispose]() {
      clearTimeout(lag);
      await fake.close();
      await cluster.close();
    },
  };
}

/** A GKE-like cluster, and the Compute fake whose zonal groups hold its workers' VMs. */
export async function gcpCloud(options: { leaveOut?: string } = {}) {
  const cluster = await startEmbeddedCluster({ workers: 3, cloud: "gcp" });
  const vms = workers(cluster).map(({ node, providerID }) => {
    // gce://PROJECT/ZONE/NAME
    const [, project, zone, name] = /^gce:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(providerID)!;
    return { node, project, zone, name };
  });
  const left = new Map<string, KubeObject>();
  const inGroups = vms.filter((vm) => vm.node.metadata!.name !== options.leaveOut);
  const fake = startGcpComputeFake({
    project: vms[0].project,
    groups: [...groupBy(inGroups, (vm) => vm.zone)].map(([zone, members]) => ({
      name: `workers-${zone}`,
      zone,
      instances: members.map((vm) => vm.name),
    })),
    standalone: vms.filter((vm) => !inGroups.includes(vm)),
    recreateMs: 300,
    operationMs: 100,
    // The VM's Node goes while it is recreated...
    onRecreate: (name) => left.set(name, cluster.api.removeNode(name)!),
    // ...and registers again under its name, as another object, once the VM runs again.
    onRecreated: (name) => void cluster.api.joinSuccessor(left.get(name)!, { name }),
  });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-adc-" });
  await Deno.writeTextFile(`${dir}/subject-token`, "fake-subject-token");
  await Deno.writeTextFile(
    `${dir}/credentials.json`,
    JSON.stringify(externalAccountCredentials(fake, `${dir}/subject-token`)),
  );
  return {
    cluster,
    fake,
    env: { GOOGLE_APPLICATION_CREDENTIALS: `${dir}/credentials.json` },
    replace: `provider: gcp-mig, endpoint: "${fake.url}/compute/v1/"`,
    policy: ladderPolicy(`provider: gcp-mig, endpoint: "${fake.url}/compute/v1/"`),
    async [Symbol.asyncDispose]() {
      await fake.close();
      await cluster.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
