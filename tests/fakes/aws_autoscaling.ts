// A fake of the AWS Auto Scaling Query API (API version 2011-01-01) on loopback, for the actions a
// node replacement needs: DescribeAutoScalingInstances, TerminateInstanceInAutoScalingGroup and
// DescribeScalingActivities.
// It checks what the real service checks: a SigV4 signature computed with the configured secret
// key over the canonical request (method, path, query, signed headers, body hash), the credential
// scope (access key, date, region, service `autoscaling`), the `X-Amz-Date` within five minutes,
// `Action` and `Version=2011-01-01`, and the required members of each action. It answers with the
// real XML shapes, errors included. Tests start it with `startAwsAutoScalingFake` and inspect
// `calls`, `activities` and the instances. A termination ends `terminateMs` later on the fake's
// clock, read when a request comes (no timers): the instance leaves, its Pending successor is
// InService and both activities are Successful.
import { createHash, createHmac } from "node:crypto";
import {
  activityQuery,
  activityXml,
  describeActivitiesXml,
  escapeXml,
  type FakeActivity,
  tag,
} from "./aws_activities.ts";

export { escapeXml, type FakeActivity };

export const AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
/** The namespace of the errors that the AWS front end answers (signature, credentials). */
export const AWS_FAULT_XMLNS = "http://webservices.amazon.com/AWSFault/2005-15-09";
export const API_VERSION = "2011-01-01";

export interface FakeAsgInstance {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  /** Pending, InService, Terminating, ... */
  lifecycleState: string;
  /** DescribeAutoScalingInstances answers HEALTHY or UNHEALTHY (upper case). */
  healthStatus: string;
  launchTemplate?: { launchTemplateId: string; launchTemplateName: string; version: string };
  protectedFromScaleIn: boolean;
}

export interface FakeAsgGroup {
  name: string;
  desiredCapacity: number;
  instances: FakeAsgInstance[];
}

export interface FakeAwsCall {
  action: string;
  params: Record<string, string>;
  /** The HTTP status the fake answered. */
  status: number;
  /** The error code, for an error answer. */
  code?: string;
}

export interface AwsAutoScalingFakeOptions {
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  groups: {
    name: string;
    desiredCapacity?: number;
    instances: (Partial<FakeAsgInstance> & { instanceId: string })[];
  }[];
  /** When a terminate does not decrement the capacity, start a Pending replacement (default true). */
  replaceOnTerminate?: boolean;
  /**
   * How long a termination takes on the fake's clock; unset, it lasts until
   * `completeTermination` (or for ever).
   */
  terminateMs?: number;
  /** Told of each accepted terminate (a whole-ladder test removes the Node). */
  onTerminate?: (instanceId: string, group: string) => void;
  /** Told when a successor is InService (a whole-ladder test brings up its Node). */
  onLaunch?: (instanceId: string, group: string) => void;
  /** The fake's clock, for the X-Amz-Date check and terminations (default: the real time). */
  now?: () => Date;
}

export interface AwsAutoScalingFake {
  /** http://127.0.0.1:PORT, for the SDK's `endpoint`. */
  url: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  groups: FakeAsgGroup[];
  calls: FakeAwsCall[];
  activities: FakeActivity[];
  instance(id: string): FakeAsgInstance | undefined;
  /**
   * The instance's termination ends now: it leaves its group (later calls find no such instance),
   * its successor is InService, the activities Successful.
   */
  completeTermination(id: string): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Errors of the front end (authentication) carry the AWSFault namespace. */
    readonly front = false,
  ) {
    super(message);
  }
}

const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you " +
  "provided. Check your AWS Secret Access Key and signing method. Consult the service " +
  "documentation for details.";

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

/** RFC 3986 encoding, as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is escaped. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20261129T000529Z` → Date. */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** SigV4's canonical request for a non-S3 service (the path's segments are encoded again). */
export function canonicalRequest(
  method: string,
  url: URL,
  headers: Headers,
  signedHeaders: string[],
  payloadHash: string,
): string {
  const path = url.pathname.split("/").map(uriEncode).join("/") || "/";
  const query = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([ak, av], [bk, bv]) => ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = signedHeaders
    .map((h) => `${h}:${(headers.get(h) ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  return [method, path, query, canonicalHeaders, signedHeaders.join(";"), payloadHash].join("\n");
}

/** The SigV4 signature of a canonical request. */
export function sigV4Signature(
  secretAccessKey: string,
  amzDateValue: string,
  scope: { date: string; region: string; service: string },
  canonical: string,
): string {
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDateValue,
    `${scope.date}/${scope.region}/${scope.service}/aws4_request`,
    sha256Hex(canonical),
  ].join("\n");
  const kDate = hmac(`AWS4${secretAccessKey}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  const kSigning = hmac(kService, "aws4_request");
  return createHmac("sha256", kSigning).update(stringToSign).digest("hex");
}

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([^,\s]+)$/;

function verifySignature(
  req: Request,
  url: URL,
  body: Uint8Array,
  opts: { region: string; accessKeyId: string; secretAccessKey: string; now: Date },
): void {
  const auth = req.headers.get("authorization");
  if (!auth) {
    throw new AwsError(
      403,
      "MissingAuthenticationToken",
      "Request is missing Authentication Token",
      true,
    );
  }
  if (!auth.startsWith("AWS4-HMAC-SHA256 ")) {
    throw new AwsError(
      400,
      "IncompleteSignature",
      `Authorization header requires 'Credential' parameter. Authorization header requires ` +
        `'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. ` +
        `Authorization=${auth}`,
      true,
    );
  }
  const m = AUTH_RE.exec(auth);
  if (!m) {
    throw new AwsError(
      400,
      "IncompleteSignature",
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters ` +
        `in AWS4-HMAC-SHA256 form. Authorization=${auth}`,
      true,
    );
  }
  const [, keyId, date, region, service, terminal, signedList, signature] = m;
  const amz = req.headers.get("x-amz-date");
  if (!amz) {
    throw new AwsError(
      400,
      "IncompleteSignature",
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " +
        `Authorization=${auth}`,
      true,
    );
  }
  const when = parseAmzDate(amz);
  if (!when) {
    throw new AwsError(
      400,
      "IncompleteSignature",
      `Date must be in ISO-8601 'basic format'. Got '${amz}'.`,
      true,
    );
  }
  if (terminal !== "aws4_request") {
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminal}'.`,
      true,
    );
  }
  if (date !== amz.slice(0, 8)) {
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ` +
        `'${date}' != '${amz.slice(0, 8)}', from '${amz}'.`,
      true,
    );
  }
  if (service !== "autoscaling") {
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to correct service: 'autoscaling'. `,
      true,
    );
  }
  if (region !== opts.region) {
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to a valid region, not '${region}'. `,
      true,
    );
  }
  if (keyId !== opts.accessKeyId) {
    throw new AwsError(
      403,
      "InvalidClientTokenId",
      "The security token included in the request is invalid.",
      true,
    );
  }
  const skew = when.getTime() - opts.now.getTime();
  if (skew < -5 * 60_000) {
    const limit = amzDate(new Date(opts.now.getTime() - 5 * 60_000));
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Signature expired: ${amz} is now earlier than ${limit} (${amzDate(opts.now)} - 5 min.)`,
      true,
    );
  }
  if (skew > 5 * 60_000) {
    const limit = amzDate(new Date(opts.now.getTime() + 5 * 60_000));
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      `Signature not yet current: ${amz} is still later than ${limit} (${
        amzDate(opts.now)
      } + 5 min.)`,
      true,
    );
  }
  const signed = signedList.split(";");
  if (!signed.includes("host")) {
    throw new AwsError(
      403,
      "SignatureDoesNotMatch",
      "'Host' must be a 'SignedHeader' in the AWS Authorization.",
      true,
    );
  }
  const sorted = [...signed].sort();
  if (signed.some((h, i) => h !== sorted[i] || h !== h.toLowerCase())) {
    throw new AwsError(403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH, true);
  }
  const payloadHash = sha256Hex(body);
  const claimed = req.headers.get("x-amz-content-sha256");
  if (claimed !== null && claimed !== payloadHash) {
    throw new AwsError(403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH, true);
  }
  const canonical = canonicalRequest(req.method, url, req.headers, signed, payloadHash);
  const expected = sigV4Signature(opts.secretAccessKey, amz, { date, region, service }, canonical);
  if (expected !== signature) {
    throw new AwsError(403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH, true);
  }
}

function errorXml(e: AwsError, requestId: string): string {
  const ns = e.front ? AWS_FAULT_XMLNS : AUTOSCALING_XMLNS;
  const type = e.status >= 500 ? "Receiver" : "Sender";
  return `<ErrorResponse xmlns="${ns}">\n  <Error>\n    <Type>${type}</Type>\n` +
    `    <Code>${escapeXml(e.code)}</Code>\n    <Message>${escapeXml(e.message)}</Message>\n` +
    `  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
}

function nullMember(member: string): AwsError {
  return new AwsError(
    400,
    "ValidationError",
    `1 validation error detected: Value null at '${member}' failed to satisfy constraint: ` +
      `Member must not be null`,
  );
}

function randomHex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
}

export function startAwsAutoScalingFake(options: AwsAutoScalingFakeOptions): AwsAutoScalingFake {
  const region = options.region ?? "eu-west-1";
  const accessKeyId = options.accessKeyId ?? "AKIDFAKEEXAMPLE";
  const secretAccessKey = options.secretAccessKey ?? "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const now = options.now ?? (() => new Date());
  const replaceOnTerminate = options.replaceOnTerminate ?? true;
  const groups: FakeAsgGroup[] = options.groups.map((g) => ({
    name: g.name,
    desiredCapacity: g.desiredCapacity ?? g.instances.length,
    instances: g.instances.map((i) => ({
      instanceType: "m5.large",
      availabilityZone: `${region}a`,
      lifecycleState: "InService",
      healthStatus: "HEALTHY",
      protectedFromScaleIn: false,
      launchTemplate: {
        launchTemplateId: "lt-0123456789abcdef0",
        launchTemplateName: `${g.name}-template`,
        version: "1",
      },
      ...i,
    })),
  }));
  const calls: FakeAwsCall[] = [];
  const activities: FakeActivity[] = [];
  /** Terminations under way: what ends them, and when (fake clock, ms; undefined: never). */
  const terminations: {
    instanceId: string;
    group: FakeAsgGroup;
    activity: FakeActivity;
    successor?: { instanceId: string; activity: FakeActivity };
    until?: number;
  }[] = [];

  /** Ends a termination: the instance leaves, its successor is InService, activities Successful. */
  function finish(t: (typeof terminations)[number], at: Date) {
    terminations.splice(terminations.indexOf(t), 1);
    t.group.instances = t.group.instances.filter((i) => i.instanceId !== t.instanceId);
    for (const a of [t.activity, t.successor?.activity]) {
      if (!a) continue;
      Object.assign(a, { statusCode: "Successful", progress: 100, endTime: at });
    }
    const next = t.successor &&
      t.group.instances.find((i) => i.instanceId === t.successor!.instanceId);
    if (next) {
      next.lifecycleState = "InService";
      options.onLaunch?.(next.instanceId, t.group.name);
    }
  }

  /** Ends the terminations whose time has come on the fake's clock. */
  function settle() {
    const at = now();
    for (const t of [...terminations]) {
      if (t.until !== undefined && t.until <= at.getTime()) finish(t, at);
    }
  }

  const find = (id: string) => {
    for (const g of groups) {
      const i = g.instances.find((x) => x.instanceId === id);
      if (i) return { group: g, instance: i };
    }
    return undefined;
  };

  function instanceXml(g: FakeAsgGroup, i: FakeAsgInstance): string {
    const lt = i.launchTemplate
      ? `<LaunchTemplate>${tag("LaunchTemplateId", i.launchTemplate.launchTemplateId)}` +
        `${tag("LaunchTemplateName", i.launchTemplate.launchTemplateName)}` +
        `${tag("Version", i.launchTemplate.version)}</LaunchTemplate>`
      : "";
    return `      <member>${tag("InstanceId", i.instanceId)}${
      tag("InstanceType", i.instanceType)
    }` +
      `${tag("AutoScalingGroupName", g.name)}${tag("AvailabilityZone", i.availabilityZone)}` +
      `${tag("LifecycleState", i.lifecycleState)}${tag("HealthStatus", i.healthStatus)}${lt}` +
      `${tag("ProtectedFromScaleIn", i.protectedFromScaleIn)}</member>\n`;
  }

  function describe(params: Record<string, string>, requestId: string): string {
    const ids = Object.keys(params)
      .filter((k) => /^InstanceIds\.member\.\d+$/.test(k))
      .sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]))
      .map((k) => params[k]);
    if (ids.length > 50) {
      throw new AwsError(
        400,
        "ValidationError",
        `1 validation error detected: Value '[${ids.join(", ")}]' at 'instanceIds' failed to ` +
          `satisfy constraint: Member must have length less than or equal to 50`,
      );
    }
    // The real service ignores ids it does not know ("ignored with no error").
    const members = groups.flatMap((g) =>
      g.instances
        .filter((i) => ids.length === 0 || ids.includes(i.instanceId))
        .map((i) => instanceXml(g, i))
    );
    return `<DescribeAutoScalingInstancesResponse xmlns="${AUTOSCALING_XMLNS}">\n` +
      `  <DescribeAutoScalingInstancesResult>\n    <AutoScalingInstances>\n${members.join("")}` +
      `    </AutoScalingInstances>\n  </DescribeAutoScalingInstancesResult>\n` +
      `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n` +
      `</DescribeAutoScalingInstancesResponse>\n`;
  }

  function terminate(params: Record<string, string>, requestId: string): string {
    const id = params.InstanceId;
    if (id === undefined) throw nullMember("instanceId");
    const decrement = params.ShouldDecrementDesiredCapacity;
    if (decrement === undefined) throw nullMember("shouldDecrementDesiredCapacity");
    if (decrement !== "true" && decrement !== "false") {
      throw new AwsError(
        400,
        "ValidationError",
        `Value '${decrement}' at 'shouldDecrementDesiredCapacity' is not a boolean`,
      );
    }
    const found = find(id);
    if (!found) {
      throw new AwsError(
        400,
        "ValidationError",
        `Instance Id not found - No managed instance found for instance ID: ${id}`,
      );
    }
    const { group, instance } = found;
    const start = now();
    const from = group.desiredCapacity;
    let cause =
      `At ${start.toISOString().replace(/\.\d{3}Z$/, "Z")} instance ${id} was taken out ` +
      `of service in response to a user request`;
    if (decrement === "true") {
      group.desiredCapacity = Math.max(0, from - 1);
      cause += `, shrinking the capacity from ${from} to ${group.desiredCapacity}.`;
    } else {
      cause += ".";
    }
    instance.lifecycleState = "Terminating";
    const activity: FakeActivity = {
      activityId: crypto.randomUUID(),
      autoScalingGroupName: group.name,
      description: `Terminating EC2 instance: ${id}`,
      cause,
      startTime: start,
      statusCode: "InProgress",
      progress: 0,
      details: JSON.stringify({ "Availability Zone": instance.availabilityZone }),
    };
    activities.push(activity);
    let successor: { instanceId: string; activity: FakeActivity } | undefined;
    if (decrement === "false" && replaceOnTerminate) {
      const next = {
        ...instance,
        instanceId: `i-${randomHex(17)}`,
        lifecycleState: "Pending",
        healthStatus: "HEALTHY",
      };
      group.instances.push(next);
      const launch: FakeActivity = {
        activityId: crypto.randomUUID(),
        autoScalingGroupName: group.name,
        description: `Launching a new EC2 instance: ${next.instanceId}`,
        cause: `At ${start.toISOString().replace(/\.\d{3}Z$/, "Z")} an instance was started in ` +
          `response to a difference between desired and actual capacity, increasing the ` +
          `capacity from ${from - 1} to ${from}.`,
        startTime: new Date(start.getTime() + 1),
        statusCode: "InProgress",
        progress: 20,
        details: JSON.stringify({ "Availability Zone": next.availabilityZone }),
      };
      activities.push(launch);
      successor = { instanceId: next.instanceId, activity: launch };
    }
    const until = options.terminateMs === undefined
      ? undefined
      : start.getTime() + options.terminateMs;
    terminations.push({ instanceId: id, group, activity, successor, until });
    options.onTerminate?.(id, group.name);
    return `<TerminateInstanceInAutoScalingGroupResponse xmlns="${AUTOSCALING_XMLNS}">\n` +
      `  <TerminateInstanceInAutoScalingGroupResult>\n    <Activity>\n` +
      activityXml(activity, "      ") + `    </Activity>\n` +
      `  </TerminateInstanceInAutoScalingGroupResult>\n` +
      `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n` +
      `</TerminateInstanceInAutoScalingGroupResponse>\n`;
  }

  async function handle(req: Request): Promise<Response> {
    const requestId = crypto.randomUUID();
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    let params: Record<string, string> = {};
    const call: FakeAwsCall = { action: "", params, status: 200 };
    try {
      if (req.method === "POST") {
        const type = req.headers.get("content-type") ?? "";
        if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
          // The real endpoint reads no action from a body of another type.
          throw new AwsError(400, "MissingAction", "Could not find operation");
        }
        params = Object.fromEntries(new URLSearchParams(new TextDecoder().decode(body)));
      } else if (req.method === "GET") {
        params = Object.fromEntries(url.searchParams);
      } else {
        throw new AwsError(400, "MissingAction", "Could not find operation");
      }
      call.params = params;
      call.action = params.Action ?? "";
      verifySignature(req, url, body, { region, accessKeyId, secretAccessKey, now: now() });
      if (!params.Action) throw new AwsError(400, "MissingAction", "Could not find operation");
      if (params.Version !== API_VERSION) {
        throw new AwsError(
          400,
          "InvalidAction",
          `Could not find operation ${params.Action} for version ${
            params.Version ?? "NO_VERSION_SPECIFIED"
          }`,
        );
      }
      let xml: string;
      settle();
      if (params.Action === "DescribeAutoScalingInstances") xml = describe(params, requestId);
      else if (params.Action === "DescribeScalingActivities") {
        const query = activityQuery(params);
        if (typeof query === "string") throw new AwsError(400, "ValidationError", query);
        xml = describeActivitiesXml(activities, query, requestId);
      } else if (params.Action === "TerminateInstanceInAutoScalingGroup") {
        xml = terminate(params, requestId);
      } else {
        throw new AwsError(
          400,
          "InvalidAction",
          `Could not find operation ${params.Action} for version ${API_VERSION}`,
        );
      }
      calls.push(call);
      return new Response(xml, {
        headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
      });
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      call.status = e.status;
      call.code = e.code;
      calls.push(call);
      return new Response(errorXml(e, requestId), {
        status: e.status,
        headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
      });
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    region,
    accessKeyId,
    secretAccessKey,
    groups,
    calls,
    activities,
    instance: (id) => find(id)?.instance,
    completeTermination(id) {
      const t = terminations.find((x) => x.instanceId === id);
      if (t) finish(t, now());
      else {
        const found = find(id);
        if (found) {
          found.group.instances = found.group.instances.filter((i) => i !== found.instance);
        }
      }
    },
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
