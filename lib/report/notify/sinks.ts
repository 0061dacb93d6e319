// The policy's sinks made real: each secret read once, at start-up, so a missing Secret fails
// the start (naming the field) rather than the first page at 3 a.m. No message here ever quotes
// a secret's value: only the field, the file's path or the variable's name.
import type { SecretSource, SinkConfig } from "../../decide/notify_policy.ts";
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

/** The secret fields' names in the policy, by sink type. */
const FIELDS = { slack: "url", pagerduty: "routingKey", webhook: "secret" } as const;

/** The sinks of `configs`, in order; throws `notify[i].<field>: ...` when one cannot work. */
export async function makeSinks(
  configs: readonly SinkConfig[],
  deps: SinkDeps = {},
): Promise<Sink[]> {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const readTextFile = deps.readTextFile ?? ((path: string) => Deno.readTextFile(path));
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
    try {
      value = await readTextFile(source.file);
    } catch (err) {
      throw new Error(`${field}: cannot read ${source.file}: ${(err as Error).message}`);
    }
    value = value.trim();
    if (!value) throw new Error(`${field}: ${source.file} is empty`);
  } else {
    value = env(source.env)?.trim();
    if (!value) {
      throw new Error(`${field}: the environment variable ${source.env} is not set or empty`);
    }
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
