// What a backtest reports, as `--json` prints it and the terminal table and the HTML page show
// it: one window of alert history, replayed once per policy (`runs`, side by side).

/** The whole report: the history replayed, and one run per `--config`. */
export interface BacktestReport {
  kind: "node-heal-backtest";
  version: 1;
  /** node-heal's version line. */
  generatedBy: string;
  source: {
    /** The Prometheus server the history was read from, if any. */
    prometheus?: string;
    /** The series selector of the alerts read (`ALERTS{alertstate="firing",...}`). */
    selector: string;
    /** Where the Nodes came from: a kubeconfig's cluster now, `kube_node_*` series, or given. */
    nodes: "kubeconfig" | "prometheus" | "given";
  };
  window: { from: string; to: string; stepSeconds: number };
  /** The Alertmanager route whose notifications were rebuilt. */
  alertmanager: {
    groupBy: string[];
    groupWaitMs: number;
    groupIntervalMs: number;
    repeatIntervalMs: number;
  };
  alerts: {
    /** Distinct alert label sets seen firing. */
    series: number;
    /** Firing periods (one alert firing, from its start to its resolution). */
    episodes: number;
    /** Webhook notifications Alertmanager would have sent. */
    notifications: number;
    /** Of those, the ones node-heal's webhook would have refused (400): they decided nothing. */
    refused?: RefusedNotifications;
    /** Alerts that matched no Node (or more than one). */
    unmatched: UnmatchedAlert[];
  };
  cluster: { nodes: number };
  /** Whether the alerts resolved by themselves: from the history alone, the same for every run. */
  selfRecovery: SelfRecovery;
  runs: BacktestRun[];
}

/**
 * Per alert name, how its firing periods ended without any action, from the history's own firing
 * periods. Those already firing at the window's start (their length unknown) are counted apart
 * and left out of every other figure; one still firing at the window's end did not recover.
 */
export interface SelfRecovery {
  /** The bound (`--self-recovery-within`): resolved at most this long after its start. */
  withinMs: number;
  /** At most 50 alert names, most firing periods first. */
  alerts: SelfRecoveryAlert[];
  /** Alert names beyond the first 50, not listed (set only when some were left out). */
  alertnamesLeftOut?: number;
}

/** One alert name's firing periods, and how they ended. */
export interface SelfRecoveryAlert {
  alertname: string;
  /** Firing periods that started in the window. */
  episodes: number;
  /** Of those, the ones that resolved within the bound of their start. */
  withinBound: number;
  /** Firing periods already firing at the window's start: not in the other figures. */
  firingAtStart: number;
  /** Resolved within 5m, 10m, 1h of their start (each counting the shorter too), later, or never. */
  resolved: {
    within5m: number;
    within10m: number;
    within1h: number;
    later: number;
    /** Still firing at the window's end: did not recover. */
    stillFiring: number;
  };
  /** The median length of the firing periods; null if none, or if it falls on one still firing. */
  medianMs: number | null;
}

/** One policy's remediations of one alert name's firing periods. */
export interface SelfRecoveryRun {
  alertname: string;
  /** Firing periods (of those counted) the policy cordoned, drained or replaced a Node for. */
  remediated: number;
  /** Of those, the ones that resolved within the bound: the action bought nothing. */
  ofWhichWithinBound: number;
}

/** Notifications node-heal's intake refuses (a label too long, too many alerts in a group). */
export interface RefusedNotifications {
  notifications: number;
  /** The alerts they carried. */
  alerts: number;
  /** The first one: when it would have been sent, and the webhook's answer. */
  first?: { at: string; message: string };
}

/** An alert that matched no single Node. */
export interface UnmatchedAlert {
  alertname: string;
  /** The label that was looked up and its value (`instance="10.9.9.9:9100"`), or none. */
  key: string;
  /** `unknown`, `ambiguous` or `no-label`. */
  reason: string;
  /** Its first firing. */
  firstAt: string;
  /** How many firing periods it had. */
  episodes: number;
}

/** One policy replayed over the history. */
export interface BacktestRun {
  /** The policy file, or `default`. */
  policy: string;
  /** The policy's gates, as written in the policy (`"51%"`, `"5/1h"`, `"10m"`). */
  gates: {
    minHealthy: string;
    maxConcurrent: number;
    rate: string;
    cooldown: string;
    maxReplacing: number;
    replaceRate: string;
    /** `gates.domains`, one line each (`topology.kubernetes.io/zone: maxUnavailable 1`). */
    domains?: string[];
    /** `gates.breaker` (`zone: alerting 3 within 5m, quiet 15m, release 1m`). */
    breaker?: string;
  };
  /** Nodes the gates count (not protected) at the start, and how many must stay available. */
  selected: number;
  minHealthyRequired: number;
  totals: {
    cordons: number;
    drains: number;
    replacements: number;
    uncordons: number;
    /** Cordons and holds that escalation by recurrence sent further (`escalate:`). */
    escalations: number;
    /** Decisions that changed nothing because a gate blocked (not duplicates or unheld resolutions). */
    blocked: number;
    /** Alerts (distinct) no rule of the policy acts on: their firings were skipped by the policy. */
    noRule: number;
  };
  /** The most nodes out at once (unschedulable or NotReady, among those the gates count). */
  peakOut: {
    count: number;
    /** When it was first reached; null when no node was ever out. */
    at: string | null;
    /** The most nodes minHealthy lets be out: selected minus required. */
    budget: number;
  };
  /**
   * The blast radius per domain: for each label key of `gates.domains` and the breaker, the most
   * Nodes out at once in each of its values. Empty when the policy names no domain.
   */
  peakOutByDomain: DomainPeak[];
  /**
   * The keys of `gates.domains` and the breaker that none of the Nodes the gates count carries:
   * each makes all of them one domain (its unlabelled one), most likely not what was meant.
   */
  unlabelledKeys?: string[];
  /** Each opening of a correlated-failure breaker, in time order. Empty without `gates.breaker`. */
  breakers: BreakerOpening[];
  /** Openings beyond the first 200, not listed (set only when some were left out). */
  breakersLeftOut?: number;
  /** Remediations (cordons), drains and replacements started, per UTC day. */
  perDay: { day: string; cordons: number; drains: number; replacements: number }[];
  /** How often each gate blocked, and for how long alerts waited behind it. */
  blockedBy: GateStat[];
  /** What happened to each Node that was touched or blocked, in time order. */
  nodes: NodeStory[];
  /** Nodes out over time: one point at the start and one at each change. */
  outOverTime: { at: string; out: number; heldByNodeHeal: number }[];
  /** Per alert name of `selfRecovery` (same order): what this policy remediated of it. */
  selfRecovered: SelfRecoveryRun[];
  /** Every decision, in the order made (as the service's `/status` and webhook answers list them). */
  decisions: ReplayDecision[];
}

/** The most Nodes out at once in one domain. */
export interface DomainPeak {
  /** The label key (`topology.kubernetes.io/zone`). */
  key: string;
  /** Its value ("" for the Nodes without the label). */
  value: string;
  /** Nodes of the domain the gates count, when the peak was first reached (at the start if none was out). */
  nodes: number;
  /** The most of them out at once (unschedulable or NotReady). */
  peak: number;
  /** When it was first reached; null when none was ever out. */
  at: string | null;
}

/** One opening of a correlated-failure breaker. */
export interface BreakerOpening {
  /** How messages name it: `zone us-east-1a`, `the selection`. */
  domain: string;
  /** The breaker's label key; unset for the whole selection. */
  key?: string;
  value: string;
  openedAt: string;
  /** When it closed; null when still open at the window's end. */
  closedAt: string | null;
  /** The nodes that had begun alerting together when it opened. */
  count: number;
  /** Those nodes (at most 20). */
  nodes: string[];
  /** Nodes whose drain or replacement it skipped or halted while open (at most 20). */
  held: string[];
}

/** One gate's blocking. */
export interface GateStat {
  gate: string;
  /** Decisions it blocked. */
  decisions: number;
  /** Distinct (node, alert) pairs it blocked. */
  alerts: number;
  /** How long they waited, summed: from the first block to the action, the resolution or the end. */
  blockedMs: number;
}

/** One Node's part of the story. */
export interface NodeStory {
  node: string;
  events: StoryEvent[];
}

/** A step of a Node's story: an action, or a gate that blocked one. */
export interface StoryEvent {
  at: string;
  /** The action written (`cordon`, `drain`, `drain-end`, `replace`, `replaced`, `uncordon`, ...) or `skipped`. */
  outcome: string;
  gate?: string;
  alertname?: string;
  message: string;
}

/** One decision made during the replay. */
export interface ReplayDecision {
  at: string;
  node: string;
  /** What led to it: an alert's notification, a look at the Node (a timer), a drain's or a replacement's end. */
  trigger: "alert" | "reconcile" | "drain-end" | "replace-end";
  alertname?: string;
  fingerprint?: string;
  status?: "firing" | "resolved";
  /** The action written, `skipped`, `unresolved` (no Node matched) or `otherCluster` (gate `cluster`). */
  outcome: string;
  gate?: string;
  message: string;
  /** A cordon or hold that escalation by recurrence sent further: where to. */
  escalated?: "drain" | "replace";
}
