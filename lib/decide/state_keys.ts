// The names of the annotations in which node-heal keeps its state and history on a Node.

/** The annotations in which node-heal keeps its ownership and progress on a Node. */
export const ANNOTATIONS = {
  /** Present (value `node-heal`) when node-heal cordoned the Node; it only undoes its own cordons. */
  cordonedBy: "node-heal.io/cordoned-by",
  /** When node-heal cordoned the Node (RFC 3339). */
  cordonedAt: "node-heal.io/cordoned-at",
  /** JSON object: fingerprint of each firing alert holding the Node -> { alertname, since, seen }. */
  alerts: "node-heal.io/alerts",
  /**
   * JSON object: the alerts holding the Node beyond the {@link MAX_HOLDS} named in `alerts`:
   * `{ seen, fingerprints, unlisted }` (see {@link Overflow}).
   */
  overflow: "node-heal.io/alerts-overflow",
  /**
   * The step of the remediation ladder the Node is on: `cordoned`, `draining`, `drained`,
   * `drain-failed`, `replacing`, `replace-failed`.
   */
  step: "node-heal.io/step",
  /** The furthest step the holding alerts asked for (`cordon`, `drain` or `replace`). */
  target: "node-heal.io/target",
  /** The policy rule that asked for it (its drain options). */
  rule: "node-heal.io/rule",
  /** When the drain is due (RFC 3339): the cordon time plus the rule's drainAfter. */
  drainAt: "node-heal.io/drain-at",
  /** When the drain started (RFC 3339). */
  drainStartedAt: "node-heal.io/drain-started-at",
  /** Which replica drains (its instance name): a claim, written with the resourceVersion read. */
  drainer: "node-heal.io/drainer",
  /** When the drainer last said it is alive (RFC 3339); a stale one lets another replica resume. */
  drainHeartbeat: "node-heal.io/drain-heartbeat",
  /** Pods the drain still has to move. */
  podsLeft: "node-heal.io/drain-pods-left",
  /** Pods the drain has evicted so far, counted across the processes that ran it. */
  drainEvicted: "node-heal.io/drain-evicted",
  /** When the replacement is due (RFC 3339): the drain's end plus the rule's replaceAfter. */
  replaceAt: "node-heal.io/replace-at",
  /** When the replacement started (RFC 3339); its record is in the replacement ledger. */
  replaceStartedAt: "node-heal.io/replace-started-at",
} as const;

/**
 * Annotations that outlive a remediation, so that the rate and cooldown gates count from
 * cluster truth across restarts and replicas.
 */
export const HISTORY = {
  /** When node-heal took this Node out, the last 20 times (JSON list of RFC 3339): the rate gate counts these. */
  remediatedAt: "node-heal.io/remediated-at",
  /** When node-heal last released this Node (RFC 3339): the cooldown gate reads it. */
  releasedAt: "node-heal.io/released-at",
  /**
   * JSON object: fingerprint -> `{ startsAt, at }` of the last alerts whose resolution released
   * this Node (`at`: when), so a firing delivered late, after its own resolution, does not take
   * the Node out again.
   */
  resolved: "node-heal.io/resolved",
  /**
   * JSON list of how this Node's last remediations ended (the last 10, oldest first): each
   * `{ outcome, step, alert, startedAt, endedAt, seconds }` (outcome_record.ts).
   */
  outcomes: "node-heal.io/outcomes",
} as const;
