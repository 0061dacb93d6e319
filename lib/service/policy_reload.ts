// Policy edits without a restart. A ConfigMap mounted as a file changes by a symlink swap that
// file watchers miss, so the file is read again every few seconds and compared with the text in
// force. A valid new policy is put in force as a whole (its rules, gates, providers and sinks); an
// invalid one is refused, the old one kept, and the refusal said where an SRE looks: the log, an
// Event on node-heal's namespace, and `nodeheal_policy_reload_total{result="refused"}`.
import { Background } from "../base/background.ts";
import { clip } from "../base/clip.ts";
import { REFUSAL_MAX } from "../decide/policy_refusal.ts";
import { log } from "../base/log.ts";
import type { KubeClient } from "../act/kube/types.ts";
import type { Fence } from "../act/fence.ts";
import type { ReplaceProvider } from "../act/replace/provider.ts";
import { loadProviders } from "../act/replace/providers.ts";
import { systemClock } from "../base/clock.ts";
import { parsePolicy, type Policy, PolicyRefused, withClusterName } from "../decide/policy.ts";
import { readPolicyFile } from "./policy_file.ts";
import type { Metrics } from "../report/metrics.ts";
import { Notifier } from "../report/notify/notifier.ts";
import { SinkQueue } from "../report/notify/queue.ts";
import { makeSinks } from "../report/notify/sinks.ts";

/** What came of an edit of the policy file (the `result` label of `nodeheal_policy_reload_total`). */
export const POLICY_RELOAD_RESULTS = ["applied", "refused"] as const;

/** What came of an edit of the policy file. */
export type PolicyReloadResult = (typeof POLICY_RELOAD_RESULTS)[number];

/** How long the sinks of a policy going out of force (or of a stopping node-heal) may deliver. */
export const NOTIFY_DRAIN_MS = 5000;

/** A policy with what it needs made: its replacement providers and its notification sinks. */
export interface PolicyInForce {
  policy: Policy;
  providers: ReadonlyMap<string, ReplaceProvider>;
  notifier: Notifier;
}

/** What a policy's parts are made with. */
export interface PolicyPartsDeps {
  client: KubeClient;
  metrics: Metrics;
  replica: string;
  dryRun: boolean;
  /** Checks the providers' cloud calls that take a machine away (act/fence.ts). */
  fence?: Fence;
}

/**
 * Makes a policy's providers and sinks (each checked, its secrets read: one that cannot work
 * throws naming the field), and keeps the notifier in force, so that the old one, once replaced,
 * delivers what it holds and stops.
 */
export class PolicyParts {
  #deps: PolicyPartsDeps;
  #notifier?: Notifier;

  constructor(deps: PolicyPartsDeps) {
    this.#deps = deps;
  }

  /** The providers and notifier of `policy`, made now; the notifier becomes the one in force. */
  async of(policy: Policy): Promise<PolicyInForce> {
    const { client, metrics, replica, dryRun, fence } = this.#deps;
    const providers = await loadProviders(policy, { client, fence });
    // Each secret's file read within its bound (sinks.ts's readSecretFile).
    const sinks = await makeSinks(policy.notify, { env: (name) => Deno.env.get(name) });
    const notifier = new Notifier(
      sinks.map((sink, i) => ({
        config: policy.notify[i],
        outbox: new SinkQueue(sink, { capacity: policy.notify[i].queue, metrics }),
      })),
      { replica, dryRun, now: systemClock, background: metrics.background },
    );
    // The sinks going out of force deliver what they hold, in the background.
    const old = this.#notifier;
    if (old) metrics.background.run("notify", () => old.close(NOTIFY_DRAIN_MS));
    this.#notifier = notifier;
    return { policy, providers, notifier };
  }

  /** Delivers what the sinks in force hold, within a bound (at shutdown). */
  async close(): Promise<void> {
    await this.#notifier?.close(NOTIFY_DRAIN_MS);
  }
}

/** Starts reading `path` again every `pollMs`: a valid edit made and applied whole, or refused. */
export async function watchPolicy(options: {
  path: string;
  pollMs: number;
  /** `--cluster-name`, which a policy without `cluster:` takes as `{ cluster: NAME }`. */
  clusterName?: string;
  parts: PolicyParts;
  apply: (next: PolicyInForce) => Promise<void>;
  told: PolicyWatchDeps["told"];
  background?: Background;
}): Promise<PolicyWatch> {
  const watch = new PolicyWatch({
    path: options.path,
    pollMs: options.pollMs,
    text: await readPolicyFile(options.path),
    apply: async (text) => {
      const policy = withClusterName(
        parsePolicy(text, `policy ${options.path}`),
        options.clusterName,
      );
      await options.apply(await options.parts.of(policy));
      warnDangers(policy);
    },
    told: options.told,
    background: options.background,
  });
  watch.start();
  return watch;
}

/** What a {@link PolicyWatch} works with. */
export interface PolicyWatchDeps {
  /** The policy file (`--config`). */
  path: string;
  /** How often it is read (ms). */
  pollMs: number;
  /** The text in force (read at start-up). */
  text: string;
  /** Reads the file; within its byte bound (`readPolicyFile`) by default. */
  read?: (path: string) => Promise<string>;
  /** Checks and puts in force the policy of `text`; throws (naming the field) when it cannot. */
  apply: (text: string) => Promise<void>;
  /** Told of each reload: applied, or refused with why. */
  told: (result: PolicyReloadResult, message: string) => void;
  /** Runs each read, its failure logged and counted (the service's); one that only logs by default. */
  background?: Background;
}

/** Reads the policy file every `pollMs`, and applies what changed. */
export class PolicyWatch {
  #deps: PolicyWatchDeps;
  #text: string;
  /** The last text refused: said once, not at every read. */
  #refused?: string;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;

  constructor(deps: PolicyWatchDeps) {
    this.#deps = deps;
    this.#text = deps.text;
  }

  start(): void {
    const background = this.#deps.background ?? new Background();
    this.#timer = setInterval(() => {
      this.#running ??= background.settled("policy-reload", async () => {
        try {
          await this.check();
        } finally {
          this.#running = undefined;
        }
      });
    }, this.#deps.pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Reads the file once, and applies it if it changed. Never throws. */
  async check(): Promise<void> {
    const { path } = this.#deps;
    let text: string;
    try {
      text = await (this.#deps.read ?? readPolicyFile)(path);
    } catch (err) {
      // Too large to read: refused as an invalid edit is, once.
      if (err instanceof PolicyRefused) return this.#refuse(err.message, err);
      // A symlink swap under way, or the file gone: the policy in force stays; say it once.
      const why = `Cannot read ${path}: ${(err as Error).message}; the policy in force stays`;
      if (this.#refused !== why) {
        this.#refused = why;
        log("main").warn("{message}", { message: why });
      }
      return;
    }
    if (text === this.#text || text === this.#refused) return;
    try {
      await this.#deps.apply(text);
    } catch (err) {
      return this.#refuse(text, err as Error);
    }
    this.#text = text;
    this.#refused = undefined;
    const message = `Applied the edited policy ${path}`;
    log("main").info("{message}", { message });
    this.#deps.told("applied", message);
  }

  /** Says once that the edit `key` stands for is refused, and why: the log, then `told`. */
  #refuse(key: string, err: Error): void {
    if (this.#refused === key) return;
    this.#refused = key;
    const message = `Refused the edited policy ${this.#deps.path}, keeping the one in force: ${
      clip(err.message, REFUSAL_MAX + 300)
    }`;
    log("main").error("{message}", { message });
    this.#deps.told("refused", message);
  }
}

/** Logs one warning line for each danger a policy acknowledges (at start-up and each reload). */
export function warnDangers(policy: Policy): void {
  for (const line of policy.warnings ?? []) log("main").warn("{message}", { message: line });
}
