// The aws-asg provider (lib/act/replace/aws_asg.ts) against the Auto Scaling fake over real HTTP:
// the SDK signs with the credentials of its default chain (here the environment), the fake
// verifies the signature. Run without --allow-sys, as node-heal runs.
import assert from "node:assert/strict";
import * as aws from "../../../lib/act/replace/aws_asg.ts";
import { type ProviderModule, ReplaceRefused } from "../../../lib/act/replace/provider.ts";
import type { ReplaceOptions } from "../../../lib/decide/replace_policy.ts";
import { FakeClient } from "../../fakes/fake_client.ts";
import { startAwsAutoScalingFake } from "../../fakes/aws_autoscaling.ts";
import { startAwsStsFake } from "../../fakes/aws_sts.ts";
import { waitFor } from "../../support/wait.ts";
import { streamedBody } from "../../fakes/streamed_body.ts";
import { Fence, isFenced } from "../../../lib/act/fence.ts";

const module: ProviderModule = aws;
const FIELD = "rules[0].replace";

const groups = [
  { name: "workers", instances: [{ instanceId: "i-0aaa1111" }, { instanceId: "i-0bbb2222" }] },
];

function target(instance: string, node = "worker-1") {
  return {
    node,
    providerID: `aws:///eu-west-1a/${instance}`,
    labels: { "eks.amazonaws.com/nodegroup": "workers" },
    annotations: {},
  };
}

/** The SDK's default chain reads process.env: the fake's keys are set for the test's length. */
async function withKeys(
  fake: { accessKeyId: string; secretAccessKey: string },
  body: () => Promise<void>,
): Promise<void> {
  const saved = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"].map((
    k,
  ) => [k, Deno.env.get(k)] as const);
  Deno.env.set("AWS_ACCESS_KEY_ID", fake.accessKeyId);
  Deno.env.set("AWS_SECRET_ACCESS_KEY", fake.secretAccessKey);
  Deno.env.delete("AWS_SESSION_TOKEN");
  try {
    await body();
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

function options(fake: { url: string; region: string }): ReplaceOptions {
  return { provider: "aws-asg", timeoutMs: 60_000, region: fake.region, endpoint: fake.url };
}

const deps = { client: new FakeClient(), env: () => undefined };

Deno.test("create() refuses a missing region, naming the field", async () => {
  await assert.rejects(
    module.create({ provider: "aws-asg", timeoutMs: 60_000 }, deps, FIELD),
    (e: Error) => {
      assert.ok(!(e instanceof ReplaceRefused));
      assert.match(e.message, /field "rules\[0\]\.replace\.region" is not set/);
      return true;
    },
  );
  const fromEnv = await aws.create(
    { provider: "aws-asg", timeoutMs: 60_000 },
    { ...deps, env: (name) => name === "AWS_DEFAULT_REGION" ? "eu-central-1" : undefined },
    FIELD,
  );
  assert.equal(fromEnv.region, "eu-central-1");
  fromEnv.close();
});

Deno.test("start() terminates the providerID's instance once, signed, keeping the capacity; progress follows the activity to done", async () => {
  const terminated: string[] = [];
  let clock = Date.now();
  await using fake = startAwsAutoScalingFake({
    groups,
    terminateMs: 60_000,
    now: () => new Date(clock),
    onTerminate: (id) => terminated.push(id),
  });
  await withKeys(fake, async () => {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      const op = await provider.start(target("i-0bbb2222"));
      const terminates = fake.calls.filter((c) =>
        c.action === "TerminateInstanceInAutoScalingGroup"
      );
      assert.equal(terminates.length, 1);
      assert.equal(terminates[0].status, 200);
      assert.equal(terminates[0].params.InstanceId, "i-0bbb2222");
      assert.equal(terminates[0].params.ShouldDecrementDesiredCapacity, "false");
      assert.deepEqual(terminated, ["i-0bbb2222"]);
      const activity = fake.activities.find((a) => a.description.endsWith("i-0bbb2222"))!;
      assert.equal(op.id, activity.activityId);
      assert.match(op.message, /i-0bbb2222/);
      assert.match(op.message, /workers/);
      assert.equal(fake.groups[0].desiredCapacity, 2);

      // A second start during the termination (a restart before the id was recorded).
      const again = await provider.start(target("i-0bbb2222"));
      assert.equal(again.id, op.id);
      assert.match(again.message, /already Terminating/);
      assert.equal(
        fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
        1,
      );

      assert.equal((await provider.progress!(target("i-0bbb2222"), op.id)).state, "running");
      clock += 60_000;
      await waitFor(
        "the activity to be done",
        async () => (await provider.progress!(target("i-0bbb2222"), op.id)).state === "done",
      );
      assert.equal(fake.instance("i-0bbb2222"), undefined);
      const states = fake.groups[0].instances.map((i) => i.lifecycleState);
      assert.deepEqual(states, ["InService", "InService"]);
      // Every call was signed and accepted.
      assert.ok(fake.calls.every((c) => c.status === 200));
    } finally {
      provider.close();
    }
  });
});

Deno.test("an instance in no group, or a providerID that is no EC2 instance's, is refused", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  await withKeys(fake, async () => {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      await assert.rejects(
        provider.start(target("i-0ccc3333", "stray")),
        (e: Error) =>
          e instanceof ReplaceRefused &&
          e.message === 'Cannot replace Node "stray": instance "i-0ccc3333" is in no Auto ' +
              "Scaling group",
      );
      await assert.rejects(
        provider.start({ ...target("x"), providerID: "gce://p/z/vm" }),
        (e: Error) => e instanceof ReplaceRefused && /"gce:\/\/p\/z\/vm"/.test(e.message),
      );
      assert.equal(
        fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
        0,
      );
    } finally {
      provider.close();
    }
  });
});

Deno.test("a termination found under way without its activity is followed by the instance", async () => {
  let clock = Date.now();
  await using fake = startAwsAutoScalingFake({
    groups,
    terminateMs: 30_000,
    now: () => new Date(clock),
  });
  await withKeys(fake, async () => {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      await provider.start(target("i-0aaa1111"));
      fake.activities.length = 0; // Older than the service keeps.
      const op = await provider.start(target("i-0aaa1111"));
      assert.equal(op.id, "already-terminating:i-0aaa1111");
      assert.equal((await provider.progress!(target("i-0aaa1111"), op.id)).state, "running");
      clock += 30_000;
      assert.equal((await provider.progress!(target("i-0aaa1111"), op.id)).state, "done");
    } finally {
      provider.close();
    }
  });
});

Deno.test("a wrong secret key passes (the replacer tries again); an unknown access key is refused", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  await withKeys({ ...fake, secretAccessKey: "not-the-secret" }, async () => {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      await assert.rejects(
        provider.start(target("i-0aaa1111")),
        (e: Error) => !(e instanceof ReplaceRefused) && /SignatureDoesNotMatch/.test(e.message),
      );
    } finally {
      provider.close();
    }
  });
  await withKeys({ ...fake, accessKeyId: "AKIDOTHER" }, async () => {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      await assert.rejects(
        provider.start(target("i-0aaa1111")),
        (e: Error) => e instanceof ReplaceRefused && /InvalidClientTokenId/.test(e.message),
      );
    } finally {
      provider.close();
    }
  });
  assert.equal(fake.instance("i-0aaa1111")?.lifecycleState, "InService");
});

Deno.test("with IRSA's web identity token the SDK's chain assumes the role through STS, without --allow-sys", async () => {
  await using fake = startAwsAutoScalingFake({ groups });
  await using sts = startAwsStsFake(fake);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-irsa-" });
  await Deno.writeTextFile(`${dir}/token`, "eyJhbGciOiJSUzI1NiJ9.fake.token");
  const vars = {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/node-heal",
    AWS_WEB_IDENTITY_TOKEN_FILE: `${dir}/token`,
    AWS_ENDPOINT_URL_STS: sts.url,
  };
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) {
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  try {
    const provider = await aws.create(options(fake), deps, FIELD);
    try {
      await provider.start(target("i-0aaa1111"));
    } finally {
      provider.close();
    }
    assert.equal(sts.calls.length, 1);
    assert.equal(sts.calls[0].RoleArn, "arn:aws:iam::123456789012:role/node-heal");
    assert.equal(sts.calls[0].WebIdentityToken, "eyJhbGciOiJSUzI1NiJ9.fake.token");
    assert.equal(fake.instance("i-0aaa1111")?.lifecycleState, "Terminating");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a closed fence refuses the terminate immediately before it is sent: the group is asked nothing that takes a machine away", async () => {
  await using fake = startAwsAutoScalingFake({ groups, terminateMs: 60_000 });
  await withKeys(fake, async () => {
    const fence = new Fence();
    let open = true;
    fence.bind({ leading: () => open });
    const provider = await aws.create(options(fake), { ...deps, fence }, FIELD);
    try {
      open = false;
      const err = await provider.start(target("i-0aaa1111")).then(() => undefined, (e) => e);
      assert.ok(isFenced(err), `fenced, got ${err}`);
      assert.ok(!(err instanceof ReplaceRefused), "not a refusal: the next leader may ask");
      // The instance was described (a read), never terminated.
      assert.ok(fake.calls.some((c) => c.action === "DescribeAutoScalingInstances"));
      assert.equal(
        fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
        0,
      );
      assert.equal(fake.instance("i-0aaa1111")?.lifecycleState, "InService");
      // Open again (this replica leads), the same start terminates it.
      open = true;
      await provider.start(target("i-0aaa1111"));
      assert.equal(
        fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
        1,
      );
    } finally {
      provider.close();
    }
  });
});

Deno.test("a terminate the SDK tries again (a 500) is fenced again at its next attempt: not sent once this replica no longer leads", async () => {
  await using fake = startAwsAutoScalingFake({ groups, terminateMs: 60_000 });
  let open = true;
  let terminates = 0;
  // The SDK sends through the global fetch: the first terminate is answered 500 (the SDK tries
  // again), and this replica stops leading meanwhile.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const body = await request.clone().text();
    if (body.includes("Action=TerminateInstanceInAutoScalingGroup") && ++terminates === 1) {
      open = false;
      return new Response(
        "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>" +
          "<Message>boom</Message></Error><RequestId>x</RequestId></ErrorResponse>",
        { status: 500, headers: { "content-type": "text/xml" } },
      );
    }
    return await realFetch(request);
  };
  try {
    await withKeys(fake, async () => {
      const fence = new Fence();
      fence.bind({ leading: () => open });
      const provider = await aws.create(options(fake), { ...deps, fence }, FIELD);
      try {
        const err = await provider.start(target("i-0aaa1111")).then(() => undefined, (e) => e);
        assert.equal(terminates, 1, "the SDK's second attempt was not sent");
        assert.ok(isFenced(err), `fenced, got ${err}`);
        assert.equal(
          fake.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").length,
          0,
        );
      } finally {
        provider.close();
      }
    });
  } finally {
    globalThis.fetch = realFetch;
  }
});

Deno.test("an AWS answer of 100 MB is cut at 4 MiB as the SDK reads it: a failed attempt that says so, not the heap", async () => {
  const counts = { pulled: 0, finished: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(streamedBody(100 * 1024 * 1024, { fill: 0x20, counts }), {
      headers: { "content-type": "text/xml" },
    });
  });
  try {
    await withKeys({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, async () => {
      const provider = await module.create(
        {
          provider: "aws-asg",
          timeoutMs: 60_000,
          region: "eu-west-1",
          endpoint: `http://127.0.0.1:${server.addr.port}`,
        },
        deps,
        FIELD,
      );
      const err = await provider.start(target("i-0aaa1111")).then(() => undefined, (e) => e);
      assert.ok(err instanceof Error && !(err instanceof ReplaceRefused), `got ${err}`);
      assert.match(
        err.message,
        /An AWS answer is larger than node-heal reads \(the limit is 4194304/,
      );
    });
  } finally {
    await server.shutdown();
  }
  // The SDK tries 3 times: each pulled the bound and what the sockets buffer, not the answer.
  assert.ok(
    counts.pulled < 3 * (aws.MAX_AWS_ANSWER_BYTES + 8 * 1024 * 1024),
    `${counts.pulled} bytes pulled`,
  );
});
