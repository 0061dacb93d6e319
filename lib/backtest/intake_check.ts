// The notifications node-heal's webhook would have refused (400): a label longer than its intake
// allows, too many labels, too many alerts in one group. The service decides nothing on them, so
// neither does the replay. Each suspect is parsed by the service's own parseNotification().
import { LIMITS, parseNotification, PayloadError } from "../intake/alertmanager.ts";
import type { Alert, Notification } from "../intake/alertmanager.ts";
import type { Delivery } from "./replay_types.ts";
import type { RefusedNotifications } from "./report_types.ts";

/** The deliveries the service's intake accepts, and a count of those it refuses. */
export async function intakeCheck(
  sent: readonly Delivery[],
): Promise<{ accepted: Delivery[]; refused: RefusedNotifications }> {
  const accepted: Delivery[] = [];
  const refused: RefusedNotifications = { notifications: 0, alerts: 0 };
  const suspect = new WeakMap<Record<string, string>, boolean>();
  const labelsSuspect = (labels: Record<string, string>) => {
    let s = suspect.get(labels);
    if (s === undefined) {
      const names = Object.keys(labels);
      s = names.length > LIMITS.labels ||
        names.some((k) => k.length > LIMITS.labelName || labels[k].length > LIMITS.labelValue);
      suspect.set(labels, s);
    }
    return s;
  };
  for (const d of sent) {
    const n = d.notification;
    if (
      n.alerts.length <= LIMITS.alerts && n.groupKey.length <= LIMITS.groupKey &&
      n.receiver.length <= LIMITS.receiver && !n.alerts.some((a) => labelsSuspect(a.labels))
    ) {
      accepted.push(d);
      continue;
    }
    try {
      await parseNotification(payload(n));
      accepted.push(d);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      refused.notifications++;
      refused.alerts += n.alerts.length;
      refused.first ??= { at: d.at.toISOString(), message: err.message };
    }
  }
  return { accepted, refused };
}

/** A notification as Alertmanager's webhook posts it (version 4). */
function payload(n: Notification) {
  return {
    version: "4",
    receiver: n.receiver,
    status: n.status,
    groupKey: n.groupKey,
    truncatedAlerts: n.truncatedAlerts,
    alerts: n.alerts.map((a: Alert) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      generatorURL: a.generatorURL,
      fingerprint: a.fingerprint,
    })),
  };
}
