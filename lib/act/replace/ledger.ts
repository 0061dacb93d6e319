// The replacement ledger as stored: the ConfigMap `node-heal-replacements` in node-heal's
// namespace, one JSON list under `replacements.json`. It outlives the Nodes it names (a replaced
// Node is deleted with its annotations) and node-heal's restarts and failovers, so the
// replacement gates count right after either. Every write carries the resourceVersion read: a
// replica that lost its lead, or two writes at once, meet 409 and decide again on what is stored.
import type { KubeClient, KubeObject, ObjectKind } from "../kube_types.ts";
import type { Replacement } from "../../decide/replacements.ts";
import { log } from "../../log.ts";
import { statusOf } from "../../retry.ts";

/** The ConfigMap that holds the ledger. */
export const LEDGER_NAME = "node-heal-replacements";

/** Its key. */
export const LEDGER_KEY = "replacements.json";

const CONFIG_MAPS: ObjectKind = { group: "", version: "v1", plural: "configmaps" };

/** How often a write that met a newer ledger (409) is tried again on a fresh read. */
const MAX_CONFLICTS = 5;

/** What a change of the ledger decides: the entries to store (undefined: store nothing), and an answer. */
export interface LedgerChange<T> {
  entries?: Replacement[];
  result: T;
}

/** The ledger of one namespace; see the module comment. */
export class Ledger {
  #client: KubeClient;
  #namespace: string;
  #entries: Replacement[] = [];
  /** The version read or written last; undefined when the ConfigMap does not exist (yet). */
  #version?: string;
  /** Changes run one at a time (each reads the result of the last). */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(client: KubeClient, namespace: string) {
    this.#client = client;
    this.#namespace = namespace;
  }

  /** The replacements as last read or written, oldest first. */
  get entries(): readonly Replacement[] {
    return this.#entries;
  }

  /** Reads the ledger again. */
  async refresh(): Promise<void> {
    const stored = await this.#client.getObject(CONFIG_MAPS, LEDGER_NAME, this.#namespace);
    this.#take(stored);
  }

  /**
   * Applies `change` to the ledger as stored and writes what it returns, with the
   * resourceVersion read; on a conflict, reads again and applies it again. Resolves with the
   * change's answer. Changes run one at a time.
   */
  update<T>(change: (entries: readonly Replacement[]) => LedgerChange<T>): Promise<T> {
    const run = this.#tail.then(() => this.#update(change));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #update<T>(change: (entries: readonly Replacement[]) => LedgerChange<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const { entries, result } = change(this.#entries);
      if (!entries) return result;
      try {
        this.#take(await this.#write(entries));
        return result;
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= MAX_CONFLICTS) throw err;
        await this.refresh();
      }
    }
  }

  #write(entries: Replacement[]): Promise<KubeObject> {
    const object: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: LEDGER_NAME,
        namespace: this.#namespace,
        labels: { "app.kubernetes.io/name": "node-heal" },
        ...(this.#version ? { resourceVersion: this.#version } : {}),
      },
      data: { [LEDGER_KEY]: JSON.stringify(entries) },
    };
    return this.#version
      ? this.#client.replaceObject(CONFIG_MAPS, object)
      : this.#client.createObject(CONFIG_MAPS, object);
  }

  #take(stored: KubeObject | undefined): void {
    this.#version = stored?.metadata.resourceVersion;
    this.#entries = parseLedger(stored?.data?.[LEDGER_KEY], this.#namespace);
  }
}

/** The entries of a stored ledger; a damaged one reads as empty, said in the log. */
export function parseLedger(raw: string | undefined, namespace: string): Replacement[] {
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    if (!Array.isArray(parsed)) throw new Error("not a JSON list");
    return parsed.filter((r): r is Replacement =>
      typeof r?.id === "string" && typeof r?.node === "string" &&
      typeof r?.startedAt === "string" && typeof r?.phase === "string"
    );
  } catch (err) {
    log("act").error(
      "The replacement ledger {namespace}/{name} is damaged ({error}); counting from an empty one",
      { namespace, name: LEDGER_NAME, error: (err as Error).message },
    );
    return [];
  }
}
