// Policy edits without a restart. A ConfigMap mounted as a file changes by a symlink swap that
// file watchers miss, so the file is read again every few seconds and compared with the text in
// force. A valid new policy is put in force as a whole (its rules, gates, providers and sinks); an
// invalid one is refused, the old one kept, and the refusal said where an SRE looks: the log, an
// Event on node-heal's namespace, and `nodeheal_policy_reload_total{result="refused"}`.
import { log } from "./log.ts";

/** What a {@link PolicyWatch} works with. */
export interface PolicyWatchDeps {
  /** The policy file (`--config`). */
  path: string;
  /** How often it is read (ms). */
  pollMs: number;
  /** The text in force (read at start-up). */
  text: string;
  /** Reads the file; `Deno.readTextFile` by default. */
  read?: (path: string) => Promise<string>;
  /** Checks and puts in force the policy of `text`; throws (naming the field) when it cannot. */
  apply: (text: string) => Promise<void>;
  /** Told of each reload: applied, or refused with why. */
  told: (result: "applied" | "refused", message: string) => void;
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
    this.#timer = setInterval(() => {
      this.#running ??= this.check().finally(() => this.#running = undefined);
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
      text = await (this.#deps.read ?? Deno.readTextFile)(path);
    } catch (err) {
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
      this.#refused = text;
      const message = `Refused the edited policy ${path}, keeping the one in force: ${
        (err as Error).message
      }`;
      log("main").error("{message}", { message });
      this.#deps.told("refused", message);
      return;
    }
    this.#text = text;
    this.#refused = undefined;
    const message = `Applied the edited policy ${path}`;
    log("main").info("{message}", { message });
    this.#deps.told("applied", message);
  }
}
