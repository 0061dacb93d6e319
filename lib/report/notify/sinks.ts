// The policy's sinks made real: each secret read once, at start-up, so a missing Secret fails
// the start (naming the field) rather than the first page at 3 a.m. No message here ever quotes
// a secret's value: only the field, the file's path or the variable's name.
import type { SecretSource, SinkConfig } from "../../decide/notify_policy.ts";
import { PolicyRefused } from "../../decide/policy_refusal.ts";
import { readFileWithin, whyUnreadable } from "../../base/bounded_read.ts";
import { LogSink } from "./log_sink.ts";
import { PagerDutySink } from "./pagerduty.ts";
import { SlackSink } from "./slack.ts";
import type { Sink } from "./types.ts";
import { WebhookSink } from "./webhook.ts";

/** Where {@link makeSinks} reads secrets: the process's by default, a test's own otherwise. */
export interface SinkDeps {
  env?: (name: string) => string | undefined;
  readTextFile?: (path: string) => Promise<string>;
  /** The time, for webhook signatures' timestamps. */
  now?: () => number;
}

/** The most a secret's file may hold (a URL, a key): a larger one is refused unread (docs/limits.md). */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * A secret's file, read within {@link MAX_SECRET_BYTES}: not a regular file (a device such as
 * /dev/zero, a FIFO), or larger, is refused. `/dev/zero` read whole took 7.8 GB in 24 s.
 */
export async function readSecretFile(path: string): Promise<string> {
  const { bytes, cut } = await readFileWithin(path, MAX_SECRET_BYTES, (stat) => {
    if (!stat.isFile) throw new Error("it is not a regular file");
  });
  if (cut) throw new Error(`it is larger than ${MAX_SECRET_BYTES} bytes`);
  return new TextDecoder().decode(bytes);
}

/**
 * A path as an error names it: only when it looks like one (absolute, no scheme), since a secret
 * written where its file's path belongs would be quoted otherwise.
 */
function shownPath(path: string): string {
  return path.startsWith("/") && !path.includes("://") && path.length <= 256
    ? path
    : "(a path not shown: it does not look like one)";
}

/** The secret fields' names in the policy, by sink type. */
const FIELDS = { slack: "url", pagerduty: "routingKey", webhook: "secret" } as const;

/**
 * The sinks of `configs`, in order; throws {@link PolicyRefused} `notify[i].<field>: ...` when one
 * cannot work (start-up ends with exit code 2, a reload keeps the policy in force).
 */
export async function makeSinks(
  configs: readonly SinkConfig[],
  deps: SinkDeps = {},
): Promise<Sink[]> {
  try {
    return await makeEach(configs, deps);
  } catch (err) {
    if (err instanceof PolicyRefused) throw err;
    throw new PolicyRefused(String((err as Error)?.message ?? err));
  }
}

async function makeEach(
  configs: readonly SinkConfig[],
  deps: SinkDeps = {},
): Promise<Sink[]> {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const readTextFile = deps.readTextFile ?? readSecretFile;
  const sinks: Sink[] = [];
  for (const [i, config] of configs.entries()) {
    const at = `notify[${i}]`;
    const read = (source: SecretSource | undefined) =>
      source && config.type !== "log"
        ? readSecret(at, FIELDS[config.type], source, env, readTextFile)
        : undefined;
    switch (config.type) {
      case "slack": {
        const url = await read(config.secret);
        if (url === undefined) throw new Error(`${at}.urlFile: a Slack sink needs its webhook URL`);
        checkSlackUrl(`${at}.${fieldOf("url", config.secret!)}`, url);
        sinks.push(new SlackSink(config.name, url));
        break;
      }
      case "pagerduty": {
        const key = await read(config.secret);
        const field = `${at}.${fieldOf("routingKey", config.secret!)}`;
        if (key === undefined) throw new Error(`${field}: a PagerDuty sink needs its routing key`);
        // PagerDuty answers 400 to any other key: better to fail at start than at the first page.
        if (!/^[A-Za-z0-9]{32}$/.test(key)) {
          throw new Error(
            `${field}: a routing key is 32 letters and digits (got ${key.length} characters)`,
          );
        }
        sinks.push(new PagerDutySink(config.name, key, config.url!));
        break;
      }
      case "webhook": {
        const key = await read(config.secret);
        sinks.push(new WebhookSink(config.name, config.url!, key, config.headers ?? {}, deps.now));
        break;
      }
      case "log":
        sinks.push(new LogSink(config.name));
        break;
    }
  }
  return sinks;
}

/** `urlFile` or `urlEnv`, as the policy named it. */
function fieldOf(what: string, source: SecretSource): string {
  return "file" in source ? `${what}File` : `${what}Env`;
}

/** A secret's value, trimmed of the newline a mounted file ends with; never empty. */
async function readSecret(
  at: string,
  what: string,
  source: SecretSource,
  env: (name: string) => string | undefined,
  readTextFile: (path: string) => Promise<string>,
): Promise<string> {
  const field = `${at}.${fieldOf(what, source)}`;
  let value: string | undefined;
  if ("file" in source) {
    const path = shownPath(source.file);
    try {
      value = await readTextFile(source.file);
    } catch (err) {
      // Deno's own message quotes the path whole: its kind says enough (NotFound, PermissionDenied).
      const e = err as Error;
      const why = e instanceof Deno.errors.NotCapable
        ? whyUnreadable(e)
        : e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied
        ? e.name
        : e.message.includes(source.file)
        ? e.name
        : e.message;
      throw new Error(`${field}: cannot read the file ${path}: ${why}`);
    }
    value = value.trim();
    if (!value) throw new Error(`${field}: the file ${path} is empty`);
  } else {
    value = env(source.env)?.trim();
    // The variable's name is not quoted: a key written where its name belongs would be.
    if (!value) throw new Error(`${field}: the environment variable it names is not set or empty`);
  }
  return value;
}

/** Slack's URL must be https (http only to loopback, for tests); the message never quotes it. */
function checkSlackUrl(field: string, url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${field}: not a URL (the value is not shown: it is a secret)`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    throw new Error(`${field}: must be an https:// URL (http:// only to loopback)`);
  }
}
