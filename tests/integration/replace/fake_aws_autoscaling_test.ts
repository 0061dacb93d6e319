// The AWS Auto Scaling fake (tests/fakes/aws_autoscaling.ts) against the real AWS SDK for
// JavaScript v3: what the SDK signs and sends is accepted and what the fake answers parses; a wrong
// secret, an unknown instance and a missing member are refused as the real service refuses them.
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import assert from "node:assert/strict";
import {
  canonicalRequest,
  sigV4Signature,
  startAwsAutoScalingFake,
} from "../../fakes/aws_autoscaling.ts";
import { createHash } from "node:crypto";

const groups = [
  {
    name: "workers",
    instances: [{ instanceId: "i-0aaa" }, { instanceId: "i-0bbb", availabilityZone: "eu-west-1b" }],
  },
  { name: "infra", instances: [{ instanceId: "i-0ccc" }] },
];

/** The SDK's default user agent reads os.release(), which wants --allow-sys: give it a fixed one. */
const quiet = {
  defaultUserAgentProvider: () => Promise.resolve([["aws-sdk-js", "3"]] as [string, string][]),
};

function client(
  fake: { url: string; region: string; accessKeyId: string; secretAccessKey: string },
  secretAccessKey = fake.secretAccessKey,
) {
  return new AutoScalingClient({
    endpoint: fake.url,
    region: fake.region,
    credentials: { accessKeyId: fake.accessKeyId, secretAccessKey },
    maxAttempts: 1,
    ...quiet,
  });
}

Deno.test("the SDK's DescribeAutoScalingInstances is accepted and its answer parses", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const asg = client(fake);
  try {
    const out = await asg.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: ["i-0bbb", "i-unknown"] }),
    );
    // An unknown id is ignored with no error, as the real service does.
    assert.equal(out.AutoScalingInstances?.length, 1);
    const [i] = out.AutoScalingInstances!;
    assert.equal(i.InstanceId, "i-0bbb");
    assert.equal(i.AutoScalingGroupName, "workers");
    assert.equal(i.AvailabilityZone, "eu-west-1b");
    assert.equal(i.LifecycleState, "InService");
    assert.equal(i.HealthStatus, "HEALTHY");
    assert.equal(i.LaunchTemplate?.LaunchTemplateName, "workers-template");
    assert.equal(i.ProtectedFromScaleIn, false);
    assert.match(out.$metadata.requestId ?? "", /^[0-9a-f-]{36}$/);
    assert.deepEqual(fake.calls.map((c) => [c.action, c.status]), [
      ["DescribeAutoScalingInstances", 200],
    ]);
    assert.equal(fake.calls[0].params["InstanceIds.member.2"], "i-unknown");
  } finally {
    asg.destroy();
  }
});

Deno.test("the SDK's TerminateInstanceInAutoScalingGroup marks the instance Terminating", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const asg = client(fake);
  try {
    const out = await asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: "i-0aaa",
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const a = out.Activity!;
    assert.equal(a.StatusCode, "InProgress");
    assert.equal(a.AutoScalingGroupName, "workers");
    assert.equal(a.Description, "Terminating EC2 instance: i-0aaa");
    assert.match(a.Cause ?? "", /instance i-0aaa was taken out of service in response to a user/);
    assert.ok(a.StartTime instanceof Date);
    assert.equal(a.Progress, 0);
    assert.deepEqual(JSON.parse(a.Details ?? ""), { "Availability Zone": "eu-west-1a" });
    assert.equal(fake.activities[0].activityId, a.ActivityId);
    assert.equal(fake.calls[0].params.ShouldDecrementDesiredCapacity, "false");

    const after = await asg.send(new DescribeAutoScalingInstancesCommand({}));
    const workers = after.AutoScalingInstances!.filter((i) => i.AutoScalingGroupName === "workers");
    assert.equal(workers.find((i) => i.InstanceId === "i-0aaa")?.LifecycleState, "Terminating");
    // The capacity was kept: a replacement is Pending.
    assert.deepEqual(workers.map((i) => i.LifecycleState).sort(), [
      "InService",
      "Pending",
      "Terminating",
    ]);

    fake.completeTermination("i-0aaa");
    await assert.rejects(
      asg.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: "i-0aaa",
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, "ValidationError");
        assert.equal(
          e.message,
          "Instance Id not found - No managed instance found for instance ID: i-0aaa",
        );
        assert.equal(e.$metadata?.httpStatusCode, 400);
        return true;
      },
    );
  } finally {
    asg.destroy();
  }
});

Deno.test("decrementing the desired capacity says so in the activity's cause", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const asg = client(fake);
  try {
    const out = await asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: "i-0ccc",
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    assert.match(out.Activity?.Cause ?? "", /, shrinking the capacity from 1 to 0\.$/);
    assert.equal(fake.groups[1].desiredCapacity, 0);
    assert.equal(fake.groups[1].instances.length, 1);
  } finally {
    asg.destroy();
  }
});

Deno.test("a wrong secret key: the SDK throws SignatureDoesNotMatch (403)", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const asg = client(fake, "not-the-secret");
  try {
    await assert.rejects(
      asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ["i-0aaa"] })),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, "SignatureDoesNotMatch");
        assert.match(e.message, /^The request signature we calculated does not match/);
        assert.equal(e.$metadata?.httpStatusCode, 403);
        return true;
      },
    );
    assert.equal(fake.instance("i-0aaa")?.lifecycleState, "InService");
  } finally {
    asg.destroy();
  }
});

Deno.test("another region or access key is refused", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const elsewhere = new AutoScalingClient({
    endpoint: fake.url,
    region: "us-east-2",
    credentials: { accessKeyId: fake.accessKeyId, secretAccessKey: fake.secretAccessKey },
    maxAttempts: 1,
    ...quiet,
  });
  const stranger = new AutoScalingClient({
    endpoint: fake.url,
    region: fake.region,
    credentials: { accessKeyId: "AKIDOTHER", secretAccessKey: fake.secretAccessKey },
    maxAttempts: 1,
    ...quiet,
  });
  try {
    await assert.rejects(
      elsewhere.send(new DescribeAutoScalingInstancesCommand({})),
      (e: Error) =>
        e.name === "SignatureDoesNotMatch" && /scoped to a valid region/.test(e.message),
    );
    await assert.rejects(
      stranger.send(new DescribeAutoScalingInstancesCommand({})),
      (e: Error) => e.name === "InvalidClientTokenId",
    );
  } finally {
    elsewhere.destroy();
    stranger.destroy();
  }
});

/** Signs a raw request as SigV4 does, to send what the SDK would not. */
function signed(
  fake: { url: string; region: string; accessKeyId: string; secretAccessKey: string },
  body: string,
  amz = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, ""),
): RequestInit {
  const url = new URL(fake.url);
  const headers = new Headers({
    "content-type": "application/x-www-form-urlencoded",
    host: url.host,
    "x-amz-date": amz,
  });
  const signedHeaders = ["content-type", "host", "x-amz-date"];
  const hash = createHash("sha256").update(body).digest("hex");
  const canonical = canonicalRequest("POST", new URL("/", url), headers, signedHeaders, hash);
  const scope = { date: amz.slice(0, 8), region: fake.region, service: "autoscaling" };
  const signature = sigV4Signature(fake.secretAccessKey, amz, scope, canonical);
  headers.set(
    "authorization",
    `AWS4-HMAC-SHA256 Credential=${fake.accessKeyId}/${scope.date}/${fake.region}/autoscaling/` +
      `aws4_request, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`,
  );
  headers.delete("host");
  return { method: "POST", headers, body };
}

Deno.test("raw requests: what the real service refuses, the fake refuses", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  const post = async (init: RequestInit) => {
    const res = await fetch(fake.url, init);
    return { status: res.status, text: await res.text() };
  };
  const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

  const ok = await post(signed(fake, "Action=DescribeAutoScalingInstances&Version=2011-01-01"));
  assert.equal(ok.status, 200);
  assert.match(ok.text, /^<DescribeAutoScalingInstancesResponse xmlns="http:\/\/autoscaling/);

  const unsigned = await post({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "Action=DescribeAutoScalingInstances&Version=2011-01-01",
  });
  assert.equal(unsigned.status, 403);
  assert.equal(code(unsigned.text), "MissingAuthenticationToken");
  assert.match(unsigned.text, /<Type>Sender<\/Type>/);

  const tampered = signed(fake, "Action=DescribeAutoScalingInstances&Version=2011-01-01");
  tampered.body = "Action=DescribeAutoScalingInstances&Version=2011-01-01&InstanceIds.member.1=x";
  const t = await post(tampered);
  assert.deepEqual([t.status, code(t.text)], [403, "SignatureDoesNotMatch"]);

  const stale = await post(
    signed(fake, "Action=DescribeAutoScalingInstances&Version=2011-01-01", "20200101T000000Z"),
  );
  assert.deepEqual([stale.status, code(stale.text)], [403, "SignatureDoesNotMatch"]);
  assert.match(stale.text, /Signature expired: 20200101T000000Z is now earlier than/);

  const noDecrement = await post(
    signed(fake, "Action=TerminateInstanceInAutoScalingGroup&Version=2011-01-01&InstanceId=i-0aaa"),
  );
  assert.deepEqual([noDecrement.status, code(noDecrement.text)], [400, "ValidationError"]);
  assert.match(noDecrement.text, /Value null at 'shouldDecrementDesiredCapacity'/);
  assert.equal(fake.instance("i-0aaa")?.lifecycleState, "InService");

  const oldVersion = await post(
    signed(fake, "Action=DescribeAutoScalingInstances&Version=2010-08-01"),
  );
  assert.deepEqual([oldVersion.status, code(oldVersion.text)], [400, "InvalidAction"]);

  const noAction = await post(signed(fake, "Version=2011-01-01"));
  assert.deepEqual([noAction.status, code(noAction.text)], [400, "MissingAction"]);

  const unknown = await post(
    signed(
      fake,
      "Action=TerminateInstanceInAutoScalingGroup&Version=2011-01-01&InstanceId=i-nope" +
        "&ShouldDecrementDesiredCapacity=false",
    ),
  );
  assert.equal(unknown.status, 400);
  assert.match(
    unknown.text,
    /<ErrorResponse xmlns="http:\/\/autoscaling\.amazonaws\.com\/doc\/2011-01-01\/">\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>ValidationError<\/Code>\s*<Message>Instance Id not found - No managed instance found for instance ID: i-nope<\/Message>\s*<\/Error>\s*<RequestId>[0-9a-f-]+<\/RequestId>\s*<\/ErrorResponse>/,
  );
});
