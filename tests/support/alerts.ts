// Alerts and notifications for tests, with no cluster and no client library: unit tests import
// these alone.
import type { Alert, Notification } from "../../lib/intake/alertmanager.ts";

/** A parsed notification of these alerts, as intake hands it to the pipeline. */
export function parsedNotification(alerts: Alert[]): Notification {
  return {
    receiver: "node-heal",
    status: alerts[0].status,
    alerts,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "",
    version: "4",
    groupKey: "{}",
    truncatedAlerts: 0,
  } as Notification;
}

/** An Alertmanager v4 notification of the given alerts, shaped as Alertmanager 0.25 sends it. */
export function notification(
  status: "firing" | "resolved",
  alerts: { labels: Record<string, string>; fingerprint?: string; summary?: string }[],
): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    receiver: "node-heal",
    status,
    alerts: alerts.map((a) => ({
      status,
      labels: a.labels,
      annotations: { summary: a.summary ?? `${a.labels.alertname} on ${a.labels.instance}` },
      startsAt: now,
      endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : now,
      generatorURL: "",
      fingerprint: a.fingerprint ?? "",
    })),
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    version: "4",
    groupKey: "{}:{}",
    truncatedAlerts: 0,
  };
}

/** An alert as intake produces it, for tests of the parts after intake. */
export function alertOf(
  labels: Record<string, string>,
  options: {
    fingerprint?: string;
    status?: Alert["status"];
    annotations?: Record<string, string>;
  } = {},
): Alert {
  return {
    fingerprint: options.fingerprint ?? "f",
    status: options.status ?? "firing",
    labels,
    annotations: options.annotations ?? {},
    startsAt: "",
    endsAt: "",
    generatorURL: "",
  };
}
