// The pause an operator sets with kubectl: the annotation `node-heal.io/paused=true` on
// node-heal's namespace, read every few seconds. Until it has been read once (or when it cannot
// be), it counts as not set; a change is said in the log once.
import type { KubeClient } from "../act/kube/types.ts";
import { Background } from "../base/background.ts";
import { log } from "../base/log.ts";
import type { Policy } from "../decide/policy.ts";

/** See the module comment. */
export class ClusterPause {
  #client: KubeClient;
  #namespace: string;
  #paused = false;
  #timer?: ReturnType<typeof setInterval>;
  #background: Background;

  /** `background` runs each read (the service's: a read that throws is logged and counted). */
  constructor(client: KubeClient, namespace: string, options: { background?: Background } = {}) {
    this.#client = client;
    this.#namespace = namespace;
    this.#background = options.background ?? new Background();
  }

  /** Whether the annotation was set when last read. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Reads the annotation now, then every `pollMs`. */
  async start(pollMs: number): Promise<void> {
    await this.#read();
    this.#timer = setInterval(this.#background.guard("pause-poll", () => this.#read()), pollMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #read(): Promise<void> {
    const namespace = this.#namespace;
    try {
      const now = await this.#client.namespacePaused(namespace);
      // Told on a change only: the annotation is read every few seconds.
      if (now && !this.#paused) {
        log("decide").warn(
          "Paused by node-heal.io/paused=true on namespace {namespace}: no new remediations",
          { namespace, paused: true },
        );
      } else if (!now && this.#paused) {
        log("decide").info(
          "Resumed: node-heal.io/paused on namespace {namespace} is no longer true",
          { namespace, paused: false },
        );
      }
      this.#paused = now;
    } catch (err) {
      log("decide").warn("Cannot read the pause annotation of namespace {namespace}: {error}", {
        namespace,
        error: (err as Error).message,
      });
    }
  }
}

/** Where the policy in force is read: the pipeline's, once it is made. */
export interface PolicyHolder {
  readonly policy: Policy;
}

/** The three pauses: `--paused`, the policy's `gates.paused`, and the namespace's annotation. */
export class Pauses {
  readonly #flag: boolean;
  readonly #cluster: ClusterPause;
  #holder: PolicyHolder;

  /** `policy` is the one in force until {@link follow} names where it is kept. */
  constructor(flag: boolean, cluster: ClusterPause, policy: Policy) {
    this.#flag = flag;
    this.#cluster = cluster;
    this.#holder = { policy };
  }

  /** Reads the policy in force from `holder` from now on (it changes on a reload). */
  follow(holder: PolicyHolder): void {
    this.#holder = holder;
  }

  /** Whether any of the three is set. */
  get paused(): boolean {
    return this.#flag || this.#holder.policy.gates.paused || this.#cluster.paused;
  }

  /** Each pause, as `/status` shows them. */
  get each(): { flag: boolean; policy: boolean; cluster: boolean } {
    return {
      flag: this.#flag,
      policy: this.#holder.policy.gates.paused,
      cluster: this.#cluster.paused,
    };
  }
}
