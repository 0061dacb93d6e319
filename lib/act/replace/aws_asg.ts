// The aws-asg provider: a Node's EC2 instance is terminated through its Auto Scaling group with
// the desired capacity kept, so the group launches a successor. The group is found by asking
// (DescribeAutoScalingInstances), never configured: a Node says only which instance it is. The
// operation is the terminate's scaling activity; it is done when the instance is gone, and the
// successor's Node is the replacer's to see. node-heal imports this module only when a rule names
// aws-asg, so the SDK stays out of every other run.
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  DescribeScalingActivitiesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { capStream } from "../../base/bounded_read.ts";
import type { ReplaceOptions } from "../../decide/replace_policy.ts";
import { isFenced } from "../fence.ts";
import {
  type Operation,
  type Progress,
  type ProviderDeps,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";

/** The aws-asg provider, with `close()` for its client's connections (tests, shutdown). */
export interface AwsAsgProvider extends ReplaceProvider {
  readonly region: string;
  close(): void;
}

/** The id of a termination found under way whose activity was not found. */
const ALREADY = "already-terminating:";

/**
 * Error names that no retry mends: missing permissions, unknown credentials, a request the
 * service finds invalid (an instance that left its group between our two calls included).
 * Throttling, 5xx, expired tokens and network errors pass.
 */
const PERMANENT = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "UnauthorizedOperation",
  "InvalidClientTokenId",
  "OptInRequired",
  "ValidationError",
]);

/** The instance id of an EC2 Node's providerID `aws:///ZONE/i-...`, or undefined. */
export function instanceIdOf(providerID: string | undefined): string | undefined {
  return /^aws:\/\/\/[a-z0-9-]+\/(i-[0-9a-f]{8,17})$/.exec(providerID ?? "")?.[1];
}

/** The region to use: the option, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. */
export function regionOf(
  options: Pick<ReplaceOptions, "region">,
  env: (name: string) => string | undefined,
  field: string,
): string {
  const region = options.region || env("AWS_REGION") || env("AWS_DEFAULT_REGION");
  if (!region) {
    throw new Error(
      `Cannot use provider "aws-asg": field "${field}.region" is not set and neither is ` +
        `AWS_REGION nor AWS_DEFAULT_REGION`,
    );
  }
  return region;
}

/** A scaling activity's status code, as the replacer's progress. */
export function activityProgress(
  activity: { ActivityId?: string; StatusCode?: string; StatusMessage?: string; Progress?: number },
): Progress {
  const code = activity.StatusCode ?? "InProgress";
  if (code === "Successful") return { state: "done" };
  if (code === "Failed" || code === "Cancelled") {
    return {
      state: "failed",
      message: `Scaling activity "${activity.ActivityId}" ended ${code}` +
        (activity.StatusMessage ? `: ${activity.StatusMessage}` : ""),
    };
  }
  return { state: "running", message: `${code} (${activity.Progress ?? 0}%)` };
}

/** An SDK error, made {@link ReplaceRefused} when no retry mends it; see {@link PERMANENT}. */
export function classify(err: unknown, what: string): Error {
  const e = err as { name?: string; message?: string };
  const text = `${what}: ${e.name ?? "Error"}: ${e.message ?? String(err)}`;
  return PERMANENT.has(e.name ?? "") ? new ReplaceRefused(text) : new Error(text, { cause: err });
}

/**
 * The SDK's default user agent reads `os.release()`, and its default HTTP handler (node:https)
 * reads the system's CA certificates: Deno allows both only with --allow-sys, which node-heal
 * runs without. A fixed user agent and Deno's own fetch need nothing more than --allow-net.
 */
const userAgent = () =>
  Promise.resolve([["aws-sdk-js", "3"], ["node-heal"]] as [string, string?][]);

/** The largest AWS answer node-heal reads (an Auto Scaling or STS answer is a few KB); docs/limits.md. */
export const MAX_AWS_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * The SDK's fetch handler, each answer's body capped at {@link MAX_AWS_ANSWER_BYTES} as it is read:
 * the SDK reads a body whole, and a larger one fails the call unread (AnswerTooLarge).
 */
class CappedFetchHttpHandler extends FetchHttpHandler {
  override async handle(...args: Parameters<FetchHttpHandler["handle"]>) {
    const out = await super.handle(...args);
    const body = out.response.body;
    if (body instanceof ReadableStream) {
      out.response.body = capStream(body, MAX_AWS_ANSWER_BYTES, "An AWS answer");
    }
    return out;
  }
}

/** Makes the aws-asg provider; credentials come from the SDK's default chain (IRSA, env, ...). */
export function create(
  options: ReplaceOptions,
  deps: ProviderDeps,
  field: string,
): Promise<AwsAsgProvider> {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  let region: string;
  try {
    region = regionOf(options, env, field);
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve(new AwsAsg(region, clientOf(region, options, deps)));
}

/** The Auto Scaling client: Deno's fetch, answers capped, a terminate fenced. */
function clientOf(region: string, options: ReplaceOptions, deps: ProviderDeps): AutoScalingClient {
  const requestHandler = new CappedFetchHttpHandler({ requestTimeout: 30_000 });
  const client = new AutoScalingClient({
    region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 3,
    defaultUserAgentProvider: userAgent,
    requestHandler,
    // The default chain, with the same two settings for the STS client that IRSA's web identity
    // token is exchanged through.
    credentials: defaultProvider({
      clientConfig: { defaultUserAgentProvider: userAgent, requestHandler },
    }),
  });
  // The fence, immediately before a terminate is sent: after credentials and signing, at every
  // attempt of the SDK's own retries.
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "TerminateInstanceInAutoScalingGroupCommand") {
        const input = args.input as { InstanceId?: string };
        deps.fence?.check("cloud", `instance "${input.InstanceId ?? ""}"`);
      }
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "nodeHealFence" },
  );
  return client;
}

/** Runs an SDK call; its failure {@link classify}'d, a fence's passed on as it is. */
async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (e) {
    if (isFenced(e)) throw e;
    throw classify(e, what);
  }
}

/** Terminates a Node's instance through its group; see the module comment. */
class AwsAsg implements AwsAsgProvider {
  readonly name = "aws-asg" as const;
  readonly region: string;
  #client: AutoScalingClient;

  constructor(region: string, client: AutoScalingClient) {
    this.region = region;
    this.#client = client;
  }

  close(): void {
    this.#client.destroy();
  }

  async start(target: ReplaceTarget): Promise<Operation> {
    const instance = instanceOf(target);
    const found = await this.#describe(instance);
    if (!found?.AutoScalingGroupName) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": instance "${instance}" is in no Auto Scaling group`,
      );
    }
    const group = found.AutoScalingGroupName;
    const state = found.LifecycleState ?? "";
    if (state.startsWith("Terminat")) {
      const activity = await this.#terminatingActivity(group, instance);
      return {
        id: activity?.ActivityId ?? `${ALREADY}${instance}`,
        message: `Instance ${instance} of Auto Scaling group ${group} is already ${state}`,
      };
    }
    if (state.startsWith("Detach")) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": instance "${instance}" is ${state} from Auto ` +
          `Scaling group "${group}"`,
      );
    }
    return await this.#terminate(group, instance);
  }

  async progress(target: ReplaceTarget, operation: string): Promise<Progress> {
    if (operation.startsWith(ALREADY)) {
      const instance = operation.slice(ALREADY.length);
      const state = (await this.#describe(instance))?.LifecycleState;
      return state === undefined || state === "Terminated"
        ? { state: "done" }
        : { state: "running", message: `Instance ${instance} is ${state}` };
    }
    const out = await call(
      `Cannot describe scaling activity "${operation}" for Node "${target.node}"`,
      () => this.#client.send(new DescribeScalingActivitiesCommand({ ActivityIds: [operation] })),
    );
    const activity = out.Activities?.find((a) => a.ActivityId === operation);
    if (!activity) {
      return { state: "failed", message: `Scaling activity "${operation}" is not listed` };
    }
    return activityProgress(activity);
  }

  /** The group's view of `instance`, if it is in one. */
  async #describe(instance: string) {
    const out = await call(
      `Cannot describe instance "${instance}"`,
      () => this.#client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instance] })),
    );
    return out.AutoScalingInstances?.find((i) => i.InstanceId === instance);
  }

  /** Terminates `instance` with the desired capacity kept, so the group launches a successor. */
  async #terminate(group: string, instance: string): Promise<Operation> {
    const out = await call(
      `Cannot terminate instance "${instance}" in Auto Scaling group "${group}"`,
      () =>
        this.#client.send(
          new TerminateInstanceInAutoScalingGroupCommand({
            InstanceId: instance,
            ShouldDecrementDesiredCapacity: false,
          }),
        ),
    );
    return {
      id: out.Activity?.ActivityId ?? `${ALREADY}${instance}`,
      message: `Asked Auto Scaling group ${group} to terminate instance ${instance} and launch ` +
        `a successor (desired capacity kept)`,
    };
  }

  /** The newest activity terminating `instance` in `group`, if the service still lists it. */
  async #terminatingActivity(group: string, instance: string) {
    const out = await call(
      `Cannot list the scaling activities of Auto Scaling group "${group}"`,
      () =>
        this.#client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group })),
    );
    return out.Activities?.find((a) => a.Description === `Terminating EC2 instance: ${instance}`);
  }
}

/** The target's EC2 instance id; refused for a providerID that names none. */
function instanceOf(target: ReplaceTarget): string {
  const instance = instanceIdOf(target.providerID);
  if (!instance) {
    throw new ReplaceRefused(
      `Cannot replace Node "${target.node}" through an Auto Scaling group: its providerID ` +
        `"${
          target.providerID ?? ""
        }" is not an EC2 instance's such as "aws:///us-east-1a/i-0abc..."`,
    );
  }
  return instance;
}
