import { z } from "zod";
import { fieldName, valueAt } from "../base/field_path.ts";

/** One alert as node-heal handles it, whatever the payload looked like. */
export interface Alert {
  /** Alertmanager's fingerprint, or one computed from the labels when it is absent. */
  fingerprint: string;
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** One Alertmanager webhook notification, normalized. */
export interface Notification {
  receiver: string;
  status: "firing" | "resolved";
  groupKey: string;
  /** Alerts Alertmanager left out because of `max_alerts`; node-heal acts on what arrived. */
  truncatedAlerts: number;
  alerts: Alert[];
}

/** Limits on what one notification may carry; more is refused (400), not half-handled. */
export const LIMITS = {
  alerts: 10_000,
  labels: 64,
  labelName: 256,
  labelValue: 4096,
  annotations: 64,
  annotationValue: 16_384,
  /** Alertmanager's are 16 hex digits; a longer one would be written on the Node and in Events. */
  fingerprint: 64,
  /** `startsAt` and `endsAt`: RFC 3339 times. */
  time: 64,
  receiver: 256,
  groupKey: 8192,
  url: 4096,
} as const;

const labelMap = z.record(z.string().max(LIMITS.labelName), z.string().max(LIMITS.labelValue))
  .refine((m) => Object.keys(m).length <= LIMITS.labels, {
    message: `must have at most ${LIMITS.labels} entries`,
  });
const annotationMap = z.record(
  z.string().max(LIMITS.labelName),
  z.string().max(LIMITS.annotationValue),
).refine((m) => Object.keys(m).length <= LIMITS.annotations, {
  message: `must have at most ${LIMITS.annotations} entries`,
});
/** An alert's (and a notification's) status, as Alertmanager sends it. */
export const ALERT_STATUSES = ["firing", "resolved"] as const;

const status = z.enum(ALERT_STATUSES);

const alertSchema = z.object({
  status,
  labels: labelMap,
  annotations: annotationMap.optional(),
  startsAt: z.string().max(LIMITS.time).optional(),
  endsAt: z.string().max(LIMITS.time).optional(),
  generatorURL: z.string().max(LIMITS.url).optional(),
  fingerprint: z.string().max(LIMITS.fingerprint).regex(/^[\x21-\x7e]*$/, {
    message: "must be printable ASCII without spaces",
  }).optional(),
});

/** The Alertmanager webhook payload, version 4. Unknown fields are allowed, as Alertmanager may add some. */
const payloadSchema = z.object({
  version: z.literal("4"),
  receiver: z.string().max(LIMITS.receiver).optional(),
  status,
  alerts: z.array(alertSchema).max(LIMITS.alerts),
  groupLabels: labelMap.optional(),
  commonLabels: labelMap.optional(),
  commonAnnotations: annotationMap.optional(),
  externalURL: z.string().max(LIMITS.url).optional(),
  groupKey: z.string().max(LIMITS.groupKey).optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
});

/** Thrown when a payload is not a valid Alertmanager notification; the message names the field. */
export class PayloadError extends Error {}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value).slice(0, 80);
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_value":
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}`;
    case "invalid_type":
      if (issue.expected === "record") return "must be an object of strings";
      return `must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
    case "too_small":
      return `must be at least ${issue.minimum}`;
    case "too_big":
      return `must be at most ${issue.maximum}${
        issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : ""
      }`;
    default:
      return issue.message;
  }
}

/** A stable fingerprint from sorted labels, for payloads that carry none (16 hex digits, like Alertmanager's). */
export async function labelFingerprint(labels: Record<string, string>): Promise<string> {
  const text = Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join("\u0000");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Parses an Alertmanager webhook body (already JSON-decoded); throws {@link PayloadError} naming the bad field. */
export async function parseNotification(body: unknown): Promise<Notification> {
  const result = payloadSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path;
    throw new PayloadError(
      `Cannot parse payload: field "${fieldName(path) || "(payload)"}" ${expectation(issue)}, got ${
        describeValue(valueAt(body, path))
      }`,
    );
  }
  const p = result.data;
  // The same alert twice in one notification is one alert: the last word on it counts.
  const byFingerprint = new Map<string, Alert>();
  for (const a of p.alerts) {
    const fingerprint = a.fingerprint || await labelFingerprint(a.labels);
    byFingerprint.delete(fingerprint);
    byFingerprint.set(fingerprint, {
      fingerprint,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt ?? "",
      endsAt: a.endsAt ?? "",
      generatorURL: a.generatorURL ?? "",
    });
  }
  const alerts = [...byFingerprint.values()];
  return {
    receiver: p.receiver ?? "",
    status: p.status,
    groupKey: p.groupKey ?? "",
    truncatedAlerts: p.truncatedAlerts ?? 0,
    alerts,
  };
}
