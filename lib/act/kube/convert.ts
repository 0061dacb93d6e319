// The client library's objects and errors in node-heal's plain forms.
import type * as k8s from "@kubernetes/client-node";
import { z } from "zod";
import type { Node } from "../../base/node.ts";
import type { Pod } from "../../base/pod.ts";
import { type EventVersion, KubeError, type LeaseRecord } from "./types.ts";

/** The `details.retryAfterSeconds` of a Status (the API server's 429 and some 5xx), in ms. */
function retryAfterMs(body: unknown): number | undefined {
  try {
    const parsed = typeof body === "string" ? JSON.parse(body) : body;
    const seconds = parsed?.details?.retryAfterSeconds;
    return typeof seconds === "number" && seconds >= 0 ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function statusMessage(body: unknown): string | undefined {
  try {
    const parsed = typeof body === "string" ? JSON.parse(body) : body;
    return typeof parsed?.message === "string" ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The causes under an error, as " (cause: ...)": a failed fetch says only "fetch failed", and
 * what an SRE needs (refused, reset, a certificate, DNS) is in its `cause`.
 */
function causesOf(err: unknown, message: string): string {
  const found: string[] = [];
  let cause = (err as { cause?: unknown })?.cause;
  for (let depth = 0; cause !== undefined && cause !== null && depth < 4; depth++) {
    const text = cause instanceof Error ? cause.message : String(cause);
    if (text && !message.includes(text) && !found.includes(text)) found.push(text);
    cause = (cause as { cause?: unknown }).cause;
  }
  return found.length > 0 ? ` (cause: ${found.join(": ")})` : "";
}

/** The request a raw call or the watch sent, `METHOD URL`, set on its errors (see rawJson). */
function requestOf(err: unknown): string {
  const request = (err as { request?: unknown })?.request;
  return typeof request === "string" ? ` [${request}]` : "";
}

/**
 * A failed API call as a {@link KubeError} that says what failed, the status and the server's
 * message, or the underlying cause of a network failure, and the request (method and URL) when
 * known.
 */
export function toKubeError(err: unknown, what: string): KubeError {
  if (err instanceof KubeError) return err;
  // The generated API's errors carry `code`; the watch library's carry `statusCode`.
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const code = typeof e?.code === "number"
    ? e.code
    : typeof e?.statusCode === "number"
    ? e.statusCode
    : undefined;
  if (code !== undefined) {
    return new KubeError(
      `Cannot ${what}: the API server answered ${code}${
        statusMessage(e.body) ? `: ${statusMessage(e.body)}` : ""
      }${requestOf(err)}`,
      code,
      retryAfterMs(e.body),
    );
  }
  const message = e?.message ?? String(err);
  const kube = new KubeError(
    `Cannot ${what}: ${message}${causesOf(err, message)}${requestOf(err)}`,
  );
  // What failed stays at hand (a page too large is asked for again smaller: pages.ts).
  return Object.assign(kube, { cause: err });
}

/** A time as the library gives it (a Date) or as plain JSON has it (a string). */
function isoTime(t: Date | string | undefined): string | undefined {
  if (t === undefined || t === null) return undefined;
  return t instanceof Date ? t.toISOString() : String(t);
}

/** Converts a Pod (plain JSON, or the client library's) into the plain form a drain reads. */
export function toPod(p: k8s.V1Pod): Pod {
  return {
    metadata: {
      name: p.metadata?.name ?? "",
      namespace: p.metadata?.namespace ?? "",
      uid: p.metadata?.uid,
      annotations: p.metadata?.annotations,
      ownerReferences: p.metadata?.ownerReferences?.map((o) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.name,
        controller: o.controller,
      })),
      deletionTimestamp: isoTime(p.metadata?.deletionTimestamp),
    },
    spec: {
      nodeName: p.spec?.nodeName,
      volumes: p.spec?.volumes?.map((v) => ({ name: v.name, emptyDir: v.emptyDir })),
    },
    status: { phase: p.status?.phase },
  };
}

/**
 * The prefixes of the annotations node-heal reads: its own state, and Cluster API's (which Machine
 * a Node is, for replacement).
 */
const KEPT_PREFIXES = ["node-heal.io/", "cluster.x-k8s.io/"];

/** The annotations of a Node node-heal reads, without the rest (kubelet's, a CNI's, ...). */
function ownAnnotations(all: Record<string, string> | undefined): Record<string, string> {
  const own: Record<string, string> = {};
  for (const key in all) {
    if (KEPT_PREFIXES.some((p) => key.startsWith(p))) own[key] = all[key];
  }
  return own;
}

/**
 * Projects a Node (the client library's, or a watch event's JSON) to what node-heal reads: name,
 * labels, its own annotations, addresses, taints, unschedulable, conditions, providerID and
 * resourceVersion. Images, managedFields, capacity and the rest (most of a real Node's 10-30 KB)
 * are dropped as each Node arrives.
 */
export function toNode(n: k8s.V1Node): Node {
  return {
    metadata: {
      name: n.metadata?.name ?? "",
      uid: n.metadata?.uid,
      resourceVersion: n.metadata?.resourceVersion,
      ...(n.metadata?.creationTimestamp
        ? { creationTimestamp: timestamp(n.metadata.creationTimestamp) }
        : {}),
      labels: n.metadata?.labels,
      annotations: ownAnnotations(n.metadata?.annotations),
    },
    spec: {
      providerID: n.spec?.providerID,
      unschedulable: n.spec?.unschedulable,
      taints: n.spec?.taints?.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
    },
    status: {
      addresses: n.status?.addresses?.map((a) => ({ type: a.type, address: a.address })),
      conditions: n.status?.conditions?.map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
      })),
    },
  };
}

/** A timestamp as RFC 3339, whether the library made it a Date or a watch event left it a string. */
function timestamp(t: Date | string): string {
  return t instanceof Date ? t.toISOString() : String(t);
}

/** The count and version of the client library's Event. */
export function toEventVersion(e: k8s.CoreV1Event): EventVersion {
  // The library turns timestamps into Dates when it reads an Event; a patch answer may keep strings.
  const last = e.lastTimestamp as Date | string | undefined;
  return {
    count: e.count ?? 1,
    resourceVersion: e.metadata?.resourceVersion ?? "",
    ...(last ? { lastTimestamp: last instanceof Date ? last.toISOString() : String(last) } : {}),
  };
}

/** A Lease as the API serves it (plain JSON). */
export interface LeaseObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The longest holder node-heal reads as one (a Pod's name is at most 253). */
const MAX_HOLDER = 1024;

/** The most transitions a Lease may count and still be counted on (the API's int32). */
const MAX_TRANSITIONS = 2 ** 31 - 2;

/** What a Lease's spec holds, field by field: each checked alone, so one bad field spoils no other. */
const LEASE_FIELDS = {
  holderIdentity: z.string().max(MAX_HOLDER),
  leaseDurationSeconds: z.number().int(),
  acquireTime: z.string().max(64),
  renewTime: z.string().max(64),
  leaseTransitions: z.number().int().min(0).max(MAX_TRANSITIONS),
};

/**
 * The record leader election reads from a Lease, each field checked (anyone with rights in
 * node-heal's namespace may write the Lease). A field that fails is read as harmless and named in
 * `malformed`: a holder too long reads as held by someone (waited out for a lease duration), a
 * count of transitions past the API's integer as 0 (so a take-over can still be written), a time
 * or a duration as absent.
 */
export function toLeaseRecord(lease: LeaseObject): LeaseRecord {
  const spec: Record<string, unknown> = lease.spec ?? {};
  const malformed: string[] = [];
  const field = <K extends keyof typeof LEASE_FIELDS>(key: K) => {
    if (spec[key] === undefined || spec[key] === null) return undefined;
    const ok = LEASE_FIELDS[key].safeParse(spec[key]);
    if (!ok.success) malformed.push(key);
    return ok.success ? ok.data as z.infer<(typeof LEASE_FIELDS)[K]> : undefined;
  };
  const holder = field("holderIdentity");
  const acquireTime = field("acquireTime");
  const renewTime = field("renewTime");
  return {
    holder: holder ?? (malformed.includes("holderIdentity") ? "(unreadable holder)" : ""),
    leaseDurationSeconds: field("leaseDurationSeconds") ?? 0,
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
    leaseTransitions: field("leaseTransitions") ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
    ...(malformed.length ? { malformed } : {}),
  };
}

/** A Lease object of `record`, carrying its resourceVersion when it has one. */
export function toLeaseObject(
  namespace: string,
  name: string,
  record: LeaseRecord,
): LeaseObject & { apiVersion: string; kind: string } {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name,
      namespace,
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
    },
    spec: {
      holderIdentity: record.holder,
      leaseDurationSeconds: record.leaseDurationSeconds,
      ...(record.acquireTime ? { acquireTime: record.acquireTime } : {}),
      ...(record.renewTime ? { renewTime: record.renewTime } : {}),
      leaseTransitions: record.leaseTransitions,
    },
  };
}
