// The pure parts of the aws-asg provider: providerIDs, activity states, error kinds.
import assert from "node:assert/strict";
import { activityProgress, classify, instanceIdOf } from "../../../../lib/act/replace/aws_asg.ts";
import { ReplaceRefused } from "../../../../lib/act/replace/provider.ts";

Deno.test("instanceIdOf() reads an EC2 providerID and nothing else", () => {
  assert.equal(instanceIdOf("aws:///us-east-1a/i-0123456789abcdef0"), "i-0123456789abcdef0");
  assert.equal(instanceIdOf("aws:///eu-west-1b/i-0abc1234"), "i-0abc1234");
  assert.equal(instanceIdOf("aws:///us-east-1a/fargate-ip-10-0-0-1"), undefined);
  assert.equal(instanceIdOf("gce://project/zone/vm"), undefined);
  assert.equal(instanceIdOf("aws:///us-east-1a/i-0abc1234/extra"), undefined);
  assert.equal(instanceIdOf(undefined), undefined);
});

Deno.test("activityProgress() maps Successful to done, Failed and Cancelled to failed, the rest to running", () => {
  assert.deepEqual(activityProgress({ StatusCode: "Successful" }), { state: "done" });
  assert.deepEqual(
    activityProgress({ ActivityId: "a1", StatusCode: "Failed", StatusMessage: "No capacity" }),
    { state: "failed", message: 'Scaling activity "a1" ended Failed: No capacity' },
  );
  assert.equal(activityProgress({ StatusCode: "Cancelled" }).state, "failed");
  for (const code of ["InProgress", "WaitingForELBConnectionDraining", "MidLifecycleAction"]) {
    assert.equal(activityProgress({ StatusCode: code, Progress: 50 }).state, "running");
  }
});

Deno.test("classify() refuses for permissions and validation, lets throttling and 5xx pass", () => {
  const named = (name: string) => Object.assign(new Error("boom"), { name });
  for (const name of ["AccessDenied", "ValidationError", "InvalidClientTokenId"]) {
    assert.ok(classify(named(name), "Cannot terminate") instanceof ReplaceRefused, name);
  }
  for (const name of ["Throttling", "ServiceUnavailable", "InternalFailure", "ExpiredToken"]) {
    const e = classify(named(name), "Cannot terminate");
    assert.ok(!(e instanceof ReplaceRefused), name);
    assert.equal(e.message, `Cannot terminate: ${name}: boom`);
  }
});
