// From what node-heal did to the notifications people get: each event made once, offered to every
// sink that wants its kind and its alert, pushed into that sink's queue (never awaited). A gate
// blocking remediations is told at most once per node a window, for a few nodes; the rest of a
// storm is counted and told as one summary when the window ends.
import { Background } from "../../base/background.ts";
import type { Clock } from "../../base/clock.ts";
import { matches } from "../../decide/matchers.ts";
import type { SinkConfig } from "../../decide/notify_policy.ts";
import { type NotifyEvent, notifyEvent, type NotifyKind } from "./types.ts";

/** Where a sink's notifications wait: a bounded queue, delivered in the background. */
export interface Outbox {
  push(event: NotifyEvent): void;
  /** Delivers what waits within `boundMs`, then stops; what is left is dropped and counted. */
  close(boundMs: number): Promise<void>;
}

/** One sink as the notifier sees it: its settings and its queue. */
export interface Route {
  config: SinkConfig;
  outbox: Outbox;
}

/** What happened, as the reporter tells it. */
export interface Happening {
  kind: NotifyKind;
  node: string;
  message: string;
  step?: string;
  gate?: string;
  alert?: NotifyEvent["alert"];
  /** When the node was cordoned (its episode), if it was. */
  cordonedAt?: string;
  at: Date;
}

/** Nodes a gate's window tells one by one; the rest of a storm goes in its summary. */
const TOLD_PER_WINDOW = 3;

/** Names a summary lists at most. */
const SUMMARY_NODES = 20;

/** See the module comment. */
export class Notifier {
  #routes: Route[];
  #replica: string;
  #dryRun: boolean;
  #now: Clock;
  /** Per sink and gate: the window under way, the nodes told in it, those only counted. */
  #blocked = new Map<string, Window>();
  #background: Background;

  constructor(
    routes: Route[],
    options: { replica: string; dryRun: boolean; now: Clock; background?: Background },
  ) {
    this.#routes = routes;
    this.#replica = options.replica;
    this.#dryRun = options.dryRun;
    this.#now = options.now;
    this.#background = options.background ?? new Background();
  }

  /** Whether any sink is configured. */
  get active(): boolean {
    return this.#routes.length > 0;
  }

  /** Offers one happening to every sink. Never throws, never waits. */
  notify(h: Happening): void {
    if (this.#routes.length === 0) return;
    const event = notifyEvent({
      id: crypto.randomUUID(),
      ...h,
      episode: h.cordonedAt ? `${h.node}@${h.cordonedAt}` : h.node,
      replica: this.#replica,
      at: h.at.toISOString(),
      dryRun: this.#dryRun,
    });
    for (const route of this.#routes) {
      if (!wants(route.config, event)) continue;
      if (event.kind === "blocked" && !this.#firstInWindow(route, event)) continue;
      route.outbox.push(event);
    }
  }

  /** Sends the summaries under way and drains every queue within `boundMs` (at shutdown). */
  async close(boundMs: number): Promise<void> {
    for (const [key, w] of this.#blocked) {
      clearTimeout(w.timer);
      this.#summarize(key, w);
    }
    this.#blocked.clear();
    await Promise.all(this.#routes.map((r) => r.outbox.close(boundMs)));
  }

  /**
   * Whether a blocked event is the first of its node and gate in the sink's window. The first
   * of a gate opens a window; the others in it are counted for the summary at its end.
   */
  #firstInWindow(route: Route, event: NotifyEvent): boolean {
    const key = `${route.config.name}\u0000${event.gate ?? ""}`;
    let w = this.#blocked.get(key);
    if (!w) {
      w = { route, gate: event.gate ?? "", told: new Set(), counted: new Map() };
      const window = w;
      window.timer = setTimeout(
        this.#background.guard("notify", () => {
          this.#blocked.delete(key);
          this.#summarize(key, window);
        }),
        route.config.blockedEveryMs,
      );
      this.#blocked.set(key, w);
    }
    // A node already told is not told again in this window, nor counted: the same story.
    if (w.told.has(event.node)) return false;
    if (w.told.size < TOLD_PER_WINDOW) {
      w.told.add(event.node);
      return true;
    }
    w.counted.set(event.node, (w.counted.get(event.node) ?? 0) + 1);
    return false;
  }

  /** The summary of a window's blocked events not told one by one, if there were any. */
  #summarize(_key: string, w: Window): void {
    if (w.counted.size === 0) return;
    const nodes = [...w.counted.keys()];
    const times = [...w.counted.values()].reduce((a, b) => a + b, 0);
    const shown = nodes.slice(0, SUMMARY_NODES).join(", ");
    const more = nodes.length > SUMMARY_NODES ? ` and ${nodes.length - SUMMARY_NODES} more` : "";
    const at = this.#now();
    w.route.outbox.push({
      id: crypto.randomUUID(),
      kind: "blocked",
      node: nodes[0],
      gate: w.gate,
      message: `Gate ${w.gate} also blocked ${times} remediation${
        times === 1 ? "" : "s"
      } of ${nodes.length} node${nodes.length === 1 ? "" : "s"} in the last ${
        Math.round(w.route.config.blockedEveryMs / 60_000)
      } min: ${shown}${more}`,
      episode: `summary@${at.toISOString()}`,
      replica: this.#replica,
      at: at.toISOString(),
      dryRun: this.#dryRun,
    });
  }
}

/** A window of one gate's blocked events for one sink. */
interface Window {
  route: Route;
  gate: string;
  /** The nodes told one by one in this window. */
  told: Set<string>;
  /** The blocked events not told, by node. */
  counted: Map<string, number>;
  timer?: ReturnType<typeof setTimeout>;
}

/** Whether a sink wants an event: its kind, and its alert's labels (empty when no alert drove it). */
export function wants(config: SinkConfig, event: NotifyEvent): boolean {
  if (config.on && !config.on.includes(event.kind)) return false;
  const labels = event.alert?.labels ?? {};
  return config.match.every((m) => matches(m, labels));
}
