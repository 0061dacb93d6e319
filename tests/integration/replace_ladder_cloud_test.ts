// The whole ladder through the cloud providers, aws-asg and gcp-mig, against their fakes
// (tests/fakes/) and the embedded cluster, read back with the real client library. The fakes'
// groups are made from the embedded Nodes' providerIDs, and their hooks play the cloud's side in
// the cluster: a terminated or recreated machine's Node goes (ApiServer.removeNode), and a
// launched or recreated machine's Node joins, Ready (ApiServer.joinSuccessor). The fakes' clocks
// move only when a request comes: node-heal's progress polls drive them.
import assert from "node:assert/strict";
import { type EmbeddedCluster, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import type { KubeObject } from "../../lib/embedded/objects.ts";
import { withService } from "../helpers.ts";
import { startAwsAutoScalingFake } from "../fakes/aws_autoscaling.ts";
import { externalAccountCredentials, startGcpComputeFake } from "../fakes/gcp_compute.ts";
import {
  assertLeftCordoned,
  assertReadySuccessor,
  ended,
  ladderPolicy,
  postReplace,
  reasonsUntil,
  REFUSED_REASONS,
  REPLACED_REASONS,
} from "../ladder.ts";

/** The embedded cluster's workers (not the control plane) with their providerIDs. */
function workers(cluster: EmbeddedCluster): { node: KubeObject; providerID: string }[] {
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

// --- aws-asg ---------------------------------------------------------------------------------

/** An EKS-like cluster on AWS, and the Auto Scaling fake whose groups hold its workers' instances. */
async function awsCloud(options: { leaveOut?: string; nodeLagMs?: number } = {}) {
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
    policy: ladderPolicy(`provider: aws-asg, region: us-east-1, endpoint: "${fake.url}"`),
    async [Symbol.asyncDispose]() {
      clearTimeout(lag);
      await fake.close();
      await cluster.close();
    },
  };
}

Deno.test("aws-asg: the ladder terminates heal-worker's instance once, keeping the capacity, and the group's new instance's Node is Ready", async () => {
  await using cloud = await awsCloud();
  await using f = await withService({
    cluster: cloud.cluster,
    policy: cloud.policy,
    env: cloud.env,
  });
  const old = await f.core.readNode({ name: "heal-worker" });
  const instance = old.spec!.providerID!.split("/").at(-1)!;

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.equal(done.provider, "aws-asg");
  const terminates = cloud.fake.calls.filter((c) =>
    c.action === "TerminateInstanceInAutoScalingGroup"
  );
  assert.equal(terminates.length, 1, "one terminate");
  assert.equal(terminates[0].params.InstanceId, instance);
  assert.equal(terminates[0].params.ShouldDecrementDesiredCapacity, "false");
  assert.ok(cloud.fake.calls.every((c) => c.status === 200), "every call signed and accepted");
  const activity = cloud.fake.activities.find((a) =>
    a.description === `Terminating EC2 instance: ${instance}`
  )!;
  assert.equal(done.operation, activity.activityId, "the operation is the terminate's activity");
  const successor = await assertReadySuccessor(f.core, done.successor, done.startedAt);
  const launched = successor.spec!.providerID!.split("/").at(-1)!;
  assert.notEqual(launched, instance);
  assert.equal(cloud.fake.instance(launched)?.lifecycleState, "InService");
  assert.equal(cloud.fake.instance(instance), undefined, "the old instance is gone");
  assert.equal(
    (await f.core.listNode()).items.some((n) => n.metadata?.name === "heal-worker"),
    false,
    "the old Node is gone",
  );
  assert.deepEqual(await reasonsUntil(f.core, "heal-worker", "NodeHealReplaced"), REPLACED_REASONS);
});

Deno.test("aws-asg: a Node that outlives its terminated instance is no successor of itself", async () => {
  // The termination's activity is Successful, but the Node (cordoned, still Ready) is there a
  // while longer: the replacement ends only once it is gone and the new instance's Node is Ready.
  await using cloud = await awsCloud({ nodeLagMs: 1500 });
  await using f = await withService({
    cluster: cloud.cluster,
    policy: cloud.policy,
    env: cloud.env,
  });
  const old = await f.core.readNode({ name: "heal-worker" });

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.notEqual(done.successor, "heal-worker", "the old Node is not its own successor");
  const successor = await assertReadySuccessor(f.core, done.successor, done.startedAt);
  assert.notEqual(successor.metadata?.uid, old.metadata?.uid);
  assert.equal(
    (await f.core.listNode()).items.some((n) => n.metadata?.name === "heal-worker"),
    false,
    "the old Node is gone",
  );
});

Deno.test("aws-asg: an instance in no Auto Scaling group is refused; the replacement fails and the Node stays cordoned", async () => {
  await using cloud = await awsCloud({ leaveOut: "heal-worker" });
  await using f = await withService({
    cluster: cloud.cluster,
    policy: cloud.policy,
    env: cloud.env,
  });

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "failed");
  assert.match(
    done.message!,
    /aws-asg refused: .*is in no Auto Scaling group/,
  );
  assert.equal(
    cloud.fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
    0,
  );
  assert.deepEqual(
    await reasonsUntil(f.core, "heal-worker", "NodeHealReplaceFailed"),
    REFUSED_REASONS,
  );
  await assertLeftCordoned(f.core, "heal-worker");
});

// --- gcp-mig ---------------------------------------------------------------------------------

/** A GKE-like cluster, and the Compute fake whose zonal groups hold its workers' VMs. */
async function gcpCloud(options: { leaveOut?: string } = {}) {
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
    policy: ladderPolicy(`provider: gcp-mig, endpoint: "${fake.url}/compute/v1/"`),
    async [Symbol.asyncDispose]() {
      await fake.close();
      await cluster.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const recreates = (fake: { calls: { method: string; path: string }[] }) =>
  fake.calls.filter((c) => c.method === "POST" && c.path.endsWith("/recreateInstances"));

Deno.test("gcp-mig: the ladder recreates heal-worker's VM once through its group, and the Node registered again is Ready", async () => {
  await using cloud = await gcpCloud();
  await using f = await withService({
    cluster: cloud.cluster,
    policy: cloud.policy,
    env: cloud.env,
  });
  const old = await f.core.readNode({ name: "heal-worker" });
  const zone = old.spec!.providerID!.split("/")[3];

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.equal(done.provider, "gcp-mig");
  const posts = recreates(cloud.fake);
  assert.equal(posts.length, 1, "one recreate");
  assert.equal(
    posts[0].path,
    `/compute/v1/projects/${cloud.fake.project}/zones/${zone}/instanceGroupManagers/workers-${zone}/recreateInstances`,
  );
  assert.deepEqual(
    (posts[0] as { body?: unknown }).body,
    { instances: [`zones/${zone}/instances/heal-worker`] },
  );
  assert.equal(done.operation, cloud.fake.operations[0].name, "the operation is the recreate's");
  // The VM keeps its name: its Node is registered again under it, as another object.
  assert.equal(done.successor, "heal-worker");
  const successor = await assertReadySuccessor(f.core, done.successor, done.startedAt);
  assert.notEqual(successor.metadata?.uid, old.metadata?.uid);
  assert.equal(successor.spec?.providerID, old.spec?.providerID);
  assert.deepEqual(await reasonsUntil(f.core, "heal-worker", "NodeHealReplaced"), REPLACED_REASONS);
});

Deno.test("gcp-mig: a VM in no managed instance group is refused; the replacement fails and the Node stays cordoned", async () => {
  await using cloud = await gcpCloud({ leaveOut: "heal-worker" });
  await using f = await withService({
    cluster: cloud.cluster,
    policy: cloud.policy,
    env: cloud.env,
  });

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "failed");
  assert.match(done.message!, /gcp-mig refused: /);
  assert.equal(recreates(cloud.fake).length, 0);
  assert.deepEqual(
    await reasonsUntil(f.core, "heal-worker", "NodeHealReplaceFailed"),
    REFUSED_REASONS,
  );
  await assertLeftCordoned(f.core, "heal-worker");
});
