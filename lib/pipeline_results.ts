// What the pipeline answers about a notification: each alert's outcome, and whether Alertmanager
// should send it again.
import type { Alert, Notification } from "./intake/alertmanager.ts";
import type { Outcome } from "./report/reporter.ts";

/** Why a replica that does not lead acts on nothing. */
export const NOT_LEADER =
  "This replica does not lead; the leader acts (Alertmanager sends it again)";

/** What happened to one alert. */
export interface AlertResult extends Outcome {
  fingerprint: string;
  alertname: string;
  status: Alert["status"];
  node?: string;
}

/** What happened to one notification; `retry` is true when an alert failed and Alertmanager should send it again. */
export interface NotificationResult {
  retry: boolean;
  /** Set when this replica does not lead: the retry should reach another replica. */
  notLeader?: true;
  dryRun: boolean;
  truncatedAlerts: number;
  alerts: AlertResult[];
}

/** The answer of a replica that does not lead: every alert failed, to be sent again (to the leader). */
export function notLeading(notification: Notification, dryRun: boolean): NotificationResult {
  return {
    retry: true,
    notLeader: true,
    dryRun,
    truncatedAlerts: notification.truncatedAlerts,
    alerts: notification.alerts.map((a) => ({
      fingerprint: a.fingerprint,
      alertname: a.labels.alertname ?? "",
      status: a.status,
      outcome: "failed",
      message: NOT_LEADER,
    })),
  };
}
