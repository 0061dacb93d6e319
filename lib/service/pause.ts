// The pause an operator sets with kubectl: the annotation `node-heal.io/paused=true` on
// node-heal's namespace, read every few seconds. Until it has been read once (or when it cannot
// be), it counts as not set; a change is said in the log once.
import type { KubeClient } from "../act/kube/types.ts";
import { Background } from "../base/background.ts";
import { log } from "../base/log.ts";

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
