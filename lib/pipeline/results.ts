// The pipeline's contract: what it works with, and what it answers about a notification (each
// alert's outcome, and whether Alertmanager should send it again).
import type { Alert, Notification } from "../intake/alertmanager.ts";
import type { Outcome } from "../report/reporter.ts";
import type { KubeClient } from "../act/kube/types.ts";
import type { ReplaceProvider } from "../act/replace/provider.ts";
import type { Clock } from "../base/clock.ts";
import type { Policy } from "../decide/policy.ts";
import type { EventRecorder } from "../report/events.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Notifier } from "../report/notify/notifier.ts";
import type { Untrusted } from "../report/untrusted.ts";
import type { StateSeal } from "../decide/seal.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

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

/** What a {@link Pipeline} works with. */
export interface PipelineDeps {
  client: KubeClient;
  index: NodeIndex;
  metrics: Metrics;
  events: EventRecorder;
  /** The clock every stage reads (default the system's). */
  now?: Clock;
  /** How long a hold lives without a firing notification (ms). */
  holdTtlMs?: number;
  policy?: Policy;
  /** Whether a pause is in force now (flag, policy file, or the cluster's pause annotation). */
  paused?: () => boolean;
  /** This replica's name, written in drain claims. */
  instance?: string;
  /** First wait between drain rounds while budgets block (ms); for tests. */
  drainRetryMs?: number;
  /** Whether this replica leads (with leader election); only the leader acts. */
  leading?: () => boolean;
  /** The replacement provider of each rule that replaces, by rule name (see act/replace/providers.ts). */
  providers?: ReadonlyMap<string, ReplaceProvider>;
  /** node-heal's namespace: where the replacement ledger is. */
  namespace?: string;
  /** How often a replacement in flight is looked at (ms); for tests. */
  replacePollMs?: number;
  /** Tells people what node-heal did (the policy's `notify:` sinks). */
  notifier?: Notifier;
  /** Tells of state others wrote where node-heal keeps its own, ignored for decisions. */
  untrusted?: Untrusted;
  /** Seals every write of node-heal's state on a Node (decide/seal.ts). */
  seal?: StateSeal;
}
