import type { z } from "zod";
import { fieldName, valueAt } from "../base/field_path.ts";
import { fastPayload } from "./payload_fast.ts";
import { ALERT_STATUSES, LIMITS, type Payload, payloadSchema } from "./payload_schema.ts";

export { ALERT_STATUSES, LIMITS };

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
  const p = fastPayload(body) ?? checkedPayload(body);
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

/** The payload as zod reads it, or a {@link PayloadError} naming the first bad field. */
function checkedPayload(body: unknown): Payload {
  const result = payloadSchema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path;
  throw new PayloadError(
    `Cannot parse payload: field "${fieldName(path) || "(payload)"}" ${expectation(issue)}, got ${
      describeValue(valueAt(body, path))
    }`,
  );
}
