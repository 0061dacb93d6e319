// The whole ladder through the cloud providers, aws-asg and gcp-mig, against their fakes and the
// embedded cluster (tests/support/clouds.ts), read back with the real client library.
import assert from "node:assert/strict";
import { withService } from "../../support/helpers.ts";
import { awsCloud, gcpCloud } from "../../support/clouds.ts";
import {
  assertLeftCordoned,
  assertReadySuccessor,
  ended,
  postReplace,
  reasonsUntil,
  REFUSED_REASONS,
  REPLACED_REASONS,
} from "../../support/ladder.ts";

// --- aws-asg ---------------------------------------------------------------------------------

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
