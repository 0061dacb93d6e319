// The image's permissions are a contract: `main.ts serve`, started with exactly the permissions and
// V8 flags the Dockerfile's `deno compile` embeds, as the shipped Deployment starts it, reads every
// file the docs tell users to mount, at the path the docs name, in each documented setup (sandbox.ts
// makes those paths without touching this machine). Each setup is driven through to the write the
// file was for: a cordon, a notification, a cloud's replacement.
import assert from "node:assert/strict";
import { HAS_OPENSSL } from "../support/tls.ts";
import { sandboxMissing } from "./sandbox.ts";
import { SERVICE_ACCOUNT, startShippedPod, WEBHOOK_TOKEN } from "./shipped_pod.ts";
import { alertOf, notification, waitFor } from "../support/helpers.ts";
import { startSlackFake } from "../fakes/slack.ts";
import { startPagerDutyFake } from "../fakes/pagerduty.ts";
import { startWebhookReceiver } from "../fakes/webhook_receiver.ts";
import { startAwsStsFake } from "../fakes/aws_sts.ts";
import { awsCloud, gcpCloud } from "../support/clouds.ts";
import { makeServiceAccountKey } from "../fakes/gcp_sts.ts";
import { ladderPolicyText, postReplace } from "../support/ladder.ts";
import { projected } from "./sandbox.ts";

const missing = (await sandboxMissing()) ??
  (HAS_OPENSSL ? undefined : "openssl is not installed (the API server's certificate)");
if (missing) console.log(`tests/image/permissions_test.ts skipped: ${missing}`);

const ROUTING_KEY = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y00";
const HMAC_KEY = "a-webhook-signing-key";
/** The secrets' folder docs/notifications.md names. */
const SECRETS = "/var/run/secrets/node-heal";

const firing = (ip = "172.18.0.3") =>
  notification("firing", [
    alertOf({ alertname: "NodeHighCPU", instance: `${ip}:9100`, heal: "true" }),
  ]);

Deno.test({
  name:
    "in-cluster service account, the policy ConfigMap, the webhook token, TLS and notification secret files: all read at their documented paths with the image's permissions",
  ignore: missing !== undefined,
  fn: async () => {
    await using slack = startSlackFake();
    await using pagerduty = startPagerDutyFake();
    await using hook = startWebhookReceiver(HMAC_KEY);
    await using pod = await startShippedPod({
      tls: true,
      policy: (shipped) => ({
        ...shipped,
        notify: [
          { name: "ops-slack", type: "slack", urlFile: `${SECRETS}/slack-url` },
          {
            name: "oncall",
            type: "pagerduty",
            routingKeyFile: `${SECRETS}/pagerduty-routing-key`,
            url: pagerduty.endpoint,
          },
          {
            name: "cmdb",
            type: "webhook",
            url: `${hook.url}/node-heal`,
            secretFile: `${SECRETS}/webhook-hmac-key`,
          },
        ],
      }),
      files: {
        [`${SECRETS}/slack-url`]: `${slack.webhook}\n`,
        [`${SECRETS}/pagerduty-routing-key`]: ROUTING_KEY,
        [`${SECRETS}/webhook-hmac-key`]: HMAC_KEY,
      },
    });
    assert.ok(pod.url.startsWith("https://"), "served over TLS from the mounted certificate");
    const refused = await pod.fetch("/webhook", { method: "POST", body: "{}" });
    await refused.body?.cancel();
    assert.equal(refused.status, 401, "the webhook wants the mounted token");
    const res = await pod.post(firing());
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).alerts[0].outcome, "cordon");
    const node = pod.cluster.api.readAll("Node").find((n) => n.metadata?.name === "heal-worker");
    assert.equal((node?.spec as { unschedulable?: boolean }).unschedulable, true);
    await waitFor("Slack's message", () => slack.received.some((r) => r.answer === 200), 10_000);
    await waitFor("PagerDuty's trigger", () => pagerduty.received.some((r) => r.answer === 202));
    await waitFor("the signed webhook", () => hook.received.some((r) => r.answer === 204));
    assert.equal(JSON.parse(pagerduty.received[0].body).routing_key, ROUTING_KEY);
    assert.ok(WEBHOOK_TOKEN && SERVICE_ACCOUNT);
  },
});

/** The files and variables EKS's Pod Identity webhook gives a pod (IRSA), at their real paths. */
const IRSA_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
const WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.irsa.token";
const ROLE_ARN = "arn:aws:iam::123456789012:role/node-heal";

/** Waits for the group's terminate of heal-worker's instance: the replacement's write, signed. */
async function terminated(
  cloud: Awaited<ReturnType<typeof awsCloud>>,
  pod: Awaited<ReturnType<typeof startShippedPod>>,
) {
  const call = await pod.waitFor(
    "the terminate of heal-worker's instance",
    () => cloud.fake.calls.find((c) => c.action === "TerminateInstanceInAutoScalingGroup"),
  );
  assert.equal(call.status, 200, "signed with the keys the credentials gave");
}

Deno.test({
  name:
    "aws-asg with IRSA: the web identity token at EKS's path is read with the image's permissions, the role assumed, the instance terminated",
  ignore: missing !== undefined,
  fn: async () => {
    await using cloud = await awsCloud();
    await using sts = startAwsStsFake(cloud.fake);
    await using pod = await startShippedPod({
      cluster: cloud.cluster,
      policy: ladderPolicyText(cloud.replace),
      files: projected(IRSA_DIR, { token: WEB_IDENTITY_TOKEN }),
      env: {
        AWS_ROLE_ARN: ROLE_ARN,
        AWS_WEB_IDENTITY_TOKEN_FILE: `${IRSA_DIR}/token`,
        AWS_STS_REGIONAL_ENDPOINTS: "regional",
        AWS_REGION: "us-east-1",
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_ENDPOINT_URL_STS: sts.url,
      },
    });
    await postReplace(pod);
    await terminated(cloud, pod);
    assert.equal(sts.calls[0].RoleArn, ROLE_ARN);
    assert.equal(sts.calls[0].WebIdentityToken, WEB_IDENTITY_TOKEN);
  },
});

/** EKS Pod Identity's agent: the credentials for the token it is shown, as its answer has them. */
function startPodIdentityAgent(keys: { accessKeyId: string; secretAccessKey: string }) {
  const seen: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.headers.get("authorization"));
    if (req.headers.get("authorization") !== POD_IDENTITY_TOKEN) {
      return Response.json({ message: "Invalid token" }, { status: 401 });
    }
    return Response.json({
      AccessKeyId: keys.accessKeyId,
      SecretAccessKey: keys.secretAccessKey,
      Token: "a-pod-identity-session-token",
      AccountId: "123456789012",
      Expiration: new Date(Date.now() + 3_600_000).toISOString(),
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1/credentials`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const POD_IDENTITY_DIR = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
const POD_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.pod-identity.token";

Deno.test({
  name:
    "aws-asg with EKS Pod Identity: the agent's token at EKS's path is read with the image's permissions, the instance terminated",
  ignore: missing !== undefined,
  fn: async () => {
    await using cloud = await awsCloud();
    await using agent = startPodIdentityAgent(cloud.fake);
    await using pod = await startShippedPod({
      cluster: cloud.cluster,
      policy: ladderPolicyText(cloud.replace),
      files: projected(POD_IDENTITY_DIR, { "eks-pod-identity-token": POD_IDENTITY_TOKEN }),
      env: {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: agent.url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: `${POD_IDENTITY_DIR}/eks-pod-identity-token`,
        AWS_REGION: "us-east-1",
        AWS_DEFAULT_REGION: "us-east-1",
      },
    });
    await postReplace(pod);
    await terminated(cloud, pod);
    assert.ok(agent.seen.includes(POD_IDENTITY_TOKEN), "the agent was shown the mounted token");
  },
});

/** Where Google's guide to service account keys on Kubernetes mounts the key (docs/replace-clouds.md). */
const GOOGLE_KEY_DIR = "/var/secrets/google";
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

/** Why Google's token endpoint cannot be served on 127.0.0.1:443 here (it takes root), if so. */
function port443Missing(): string | undefined {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 443 }).close();
    return undefined;
  } catch (e) {
    return `127.0.0.1:443 cannot be served here (${(e as Error).name})`;
  }
}
const keyMissing = missing ?? port443Missing();
if (keyMissing && !missing) console.log(`the Google key file test skipped: ${keyMissing}`);

Deno.test({
  name:
    "gcp-mig with a service account key file: GOOGLE_APPLICATION_CREDENTIALS at its documented path is read with the image's permissions, the VM recreated",
  ignore: keyMissing !== undefined,
  fn: async () => {
    await using cloud = await gcpCloud();
    const key = await makeServiceAccountKey(cloud.fake.project, GOOGLE_TOKEN_URL);
    cloud.fake.trust(key);
    await using pod = await startShippedPod({
      cluster: cloud.cluster,
      policy: ladderPolicyText(cloud.replace),
      files: projected(GOOGLE_KEY_DIR, { "key.json": JSON.stringify(key.file) }),
      env: { GOOGLE_APPLICATION_CREDENTIALS: `${GOOGLE_KEY_DIR}/key.json` },
      // google-auth-library sends a key's grant to Google's endpoint whatever its token_uri says.
      internet: { "oauth2.googleapis.com": cloud.fake.url },
    });
    await postReplace(pod);
    const post = await pod.waitFor(
      "the recreate of heal-worker's VM",
      () => cloud.fake.calls.find((c) => c.path.endsWith("/recreateInstances")),
    );
    assert.equal(post.status, 200, "with the token the key's grant gave");
    assert.ok(cloud.fake.calls.some((c) => c.path === "/token" && c.status === 200));
  },
});

Deno.test({
  name:
    "a secret file mounted outside the paths the image reads stops start-up, saying where the list is",
  ignore: missing !== undefined,
  fn: async () => {
    const err = await startShippedPod({
      policy: (shipped) => ({
        ...shipped,
        notify: [{ name: "ops-slack", type: "slack", urlFile: "/var/lib/node-heal/slack-url" }],
      }),
      files: { "/var/lib/node-heal/slack-url": "https://hooks.slack.com/services/T0/B0/x\n" },
    }).then(async (pod) => {
      await pod[Symbol.asyncDispose]();
      return undefined;
    }, (e: Error) => e);
    assert.ok(err, "serve did not start");
    assert.match(
      err.message,
      /serve ended \(2\): node-heal: notify\[0\]\.urlFile: cannot read the file \/var\/lib\/node-heal\/slack-url: node-heal's permissions do not reach it \(the image reads only under the paths docs\/security\.md lists in "Permissions"; mount it there\)/,
    );
  },
});
