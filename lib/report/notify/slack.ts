// Slack: an incoming webhook's message, Block Kit with the plain `text` fallback Slack shows in
// notifications and to clients without blocks. Every text is cut to Slack's limits here, so a
// long node name or alert summary can never get a message refused as "invalid_blocks"; and every
// text from outside is escaped (`&`, `<`, `>`), so no alert can mention `<!channel>` or name a
// link: the only links are the alert's `generatorURL` and `runbook_url`, under node-heal's words.
import { post } from "./http.ts";
import { clip } from "../../base/clip.ts";
import type { Attempt, NotifyEvent, NotifyKind, Sink } from "./types.ts";

/** Slack's limits (https://api.slack.com/reference/block-kit/blocks). */
export const SLACK_LIMITS = {
  header: 150,
  sectionText: 3000,
  fields: 10,
  field: 2000,
  blocks: 50,
  contextElements: 10,
  /** The top-level `text`: Slack truncates beyond 40,000; we stay well below. */
  text: 3000,
} as const;

/** How each kind reads in a headline, after the node's name. */
const HEADLINES: Record<NotifyKind, string> = {
  cordoned: "cordoned",
  drainStarted: "drain started",
  drained: "drained",
  drainFailed: "drain failed",
  replaceStarted: "replacement started",
  replaced: "replaced",
  replaceFailed: "replacement failed",
  released: "released",
  blocked: "blocked by a gate",
  breakerOpen: "breaker open: drains and replacements held",
  breakerClosed: "breaker closed",
};

/** An emoji per kind, so a channel reads at a glance what went wrong and what got better. */
const MARKS: Record<NotifyKind, string> = {
  cordoned: ":construction:",
  drainStarted: ":hourglass_flowing_sand:",
  drained: ":arrow_down:",
  drainFailed: ":x:",
  replaceStarted: ":recycle:",
  replaced: ":white_check_mark:",
  replaceFailed: ":x:",
  released: ":white_check_mark:",
  blocked: ":no_entry:",
  breakerOpen: ":rotating_light:",
  breakerClosed: ":white_check_mark:",
};

/** Escapes what Slack's mrkdwn reads as markup (`&`, `<`, `>`), as Slack asks. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** The one-line headline: `node-1 cordoned (dry run)`. */
export function headline(event: NotifyEvent): string {
  return `${event.node} ${HEADLINES[event.kind]}${event.dryRun ? " (dry run)" : ""}`;
}

/**
 * The plain text of a notification: what the log sink prints, and, escaped, Slack's top-level
 * `text` (what a push notification shows). Plain, not mrkdwn-escaped: it is escaped where it
 * becomes mrkdwn.
 */
export function plainText(event: NotifyEvent): string {
  const parts = [`node-heal: ${headline(event)}: ${event.message}`];
  if (event.alert) parts.push(`alert ${event.alert.name}`);
  if (event.gate) parts.push(`gate ${event.gate}`);
  return parts.join(" — ");
}

/** A link's address at most: Slack's texts hold 3,000 characters, and a link is one line. */
const MAX_LINK = 2000;

/**
 * The address of a link as Slack's `<address|text>` takes it, or undefined when it is none node-heal
 * links: an absolute http(s) URL without credentials, at most {@link MAX_LINK} characters. The URL
 * parser percent-encodes spaces, quotes, `<` and `>`; `|` (which would end the address) is
 * encoded too, and `&` escaped as Slack asks.
 */
export function linkAddress(text: string | undefined): string | undefined {
  if (!text || text.length > MAX_LINK) return undefined;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return undefined;
  }
  if ((u.protocol !== "https:" && u.protocol !== "http:") || u.username || u.password) {
    return undefined;
  }
  const address = escapeMrkdwn(u.href.replaceAll("|", "%7C"));
  return address.length > MAX_LINK ? undefined : address;
}

/**
 * The links of a notification, each under a name node-heal gives it: the alert's `generatorURL`
 * (Prometheus' graph of its rule) and its `runbook_url` annotation. Nothing else from an alert
 * becomes a link: a label holding a URL is plain text, so an alert cannot name a link it chose.
 */
function links(event: NotifyEvent): { name: string; address: string }[] {
  const out: { name: string; address: string }[] = [];
  const runbook = linkAddress(event.alert?.runbookURL);
  if (runbook) out.push({ name: "runbook", address: runbook });
  const source = linkAddress(event.alert?.generatorURL);
  if (source) out.push({ name: "source", address: source });
  return out;
}

/**
 * A text object. Every mrkdwn one is `verbatim`: Slack then links no bare URL and parses no
 * channel name or mention in it, so only the `<address|name>` links node-heal writes are links.
 */
type Text = { type: "mrkdwn"; text: string; verbatim: true } | { type: "plain_text"; text: string };

/** Escaped text within `max` characters: clipped after escaping, never in the middle of an entity. */
function fit(escaped: string, max: number): string {
  const out = clip(escaped, max);
  if (out === escaped) return out;
  return out.replace(/&[a-z]{0,3}…$/, "…");
}

/** A mrkdwn text object. */
function mrkdwn(text: string): Text {
  return { type: "mrkdwn", text, verbatim: true };
}
type Block =
  | { type: "header"; text: { type: "plain_text"; text: string; emoji: boolean } }
  | { type: "section"; text?: Text; fields?: Text[] }
  | { type: "context"; elements: Text[] }
  | { type: "divider" };

/** The incoming webhook's JSON body: `text` always, and the blocks within Slack's limits. */
export function slackMessage(
  event: NotifyEvent,
): { text: string; blocks: Block[]; unfurl_links: false; unfurl_media: false } {
  const field = (label: string, value: string): Text =>
    mrkdwn(fit(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.field));
  // A breaker's event is about a domain (`zone us-east-1a`), not a node.
  const breaker = event.kind === "breakerOpen" || event.kind === "breakerClosed";
  const fields: Text[] = [field(breaker ? "Domain" : "Node", event.node)];
  if (event.step) fields.push(field("Step", event.step));
  if (event.alert) fields.push(field("Alert", event.alert.name));
  if (event.alert?.labels.severity) fields.push(field("Severity", event.alert.labels.severity));
  if (event.gate) fields.push(field("Gate", event.gate));
  fields.push(field("Replica", event.replica));

  const summary = event.alert?.summary ? `\n>${escapeMrkdwn(event.alert.summary)}` : "";
  const blocks: Block[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: fit(`${MARKS[event.kind]} ${escapeMrkdwn(headline(event))}`, SLACK_LIMITS.header),
        emoji: true,
      },
    },
    {
      type: "section",
      text: mrkdwn(fit(escapeMrkdwn(event.message) + summary, SLACK_LIMITS.sectionText)),
    },
    { type: "section", fields: fields.slice(0, SLACK_LIMITS.fields) },
  ];

  // The context line: when, which episode, and the alert's links; at most ten elements.
  const context: Text[] = [
    mrkdwn(fit(
      `${escapeMrkdwn(event.at)} · episode \`${escapeMrkdwn(event.episode)}\``,
      SLACK_LIMITS.sectionText,
    )),
  ];
  if (event.dryRun) context.push(mrkdwn("*dry run*: nothing was written"));
  for (const { name, address } of links(event)) context.push(mrkdwn(`<${address}|${name}>`));
  blocks.push({ type: "context", elements: context });

  return {
    // Slack reads the top-level text as mrkdwn too: unescaped, an alert named `<!channel>`
    // would ping the channel from every phone.
    text: fit(escapeMrkdwn(plainText(event)), SLACK_LIMITS.text),
    blocks: blocks.slice(0, SLACK_LIMITS.blocks),
    // No preview fetched from any address a message holds.
    unfurl_links: false,
    unfurl_media: false,
  };
}

/** A Slack incoming webhook; `url` is the secret. */
export class SlackSink implements Sink {
  readonly type = "slack" as const;
  // A #private field: no log of the sink object, JSON or inspected, can show the URL.
  readonly #url: string;
  constructor(readonly name: string, url: string) {
    this.#url = url;
  }

  deliver(event: NotifyEvent, signal: AbortSignal): Promise<Attempt> {
    return post({
      url: this.#url,
      body: JSON.stringify(slackMessage(event)),
      headers: { "content-type": "application/json; charset=utf-8" },
      signal,
      secrets: [this.#url],
    });
  }
}
