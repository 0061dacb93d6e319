// A fake Slack incoming webhook: it checks a message the way Slack does (a JSON body, a `text`,
// blocks of the kinds node-heal sends, within Block Kit's limits) and answers as Slack answers:
// 200 "ok", or 400 "invalid_blocks" / "no_text" / "invalid_payload".
import { type ScriptedFake, startScripted } from "./scripted_http.ts";

/** Block Kit's limits, as Slack enforces them (not node-heal's copy of them). */
const LIMITS = { header: 150, text: 3000, fields: 10, field: 2000, blocks: 50, context: 10 };

export interface SlackFake extends ScriptedFake {
  /** The webhook URL (the secret): its path is `/services/T…/B…/<token>`. */
  webhook: string;
}

/** Why Slack would refuse `body`, or undefined when it would post it. */
export function slackRefusal(body: string): string | undefined {
  let msg: { text?: unknown; blocks?: unknown };
  try {
    msg = JSON.parse(body);
  } catch {
    return "invalid_payload";
  }
  if (typeof msg.text !== "string" || msg.text.trim() === "") return "no_text";
  if (msg.blocks === undefined) return undefined;
  if (!Array.isArray(msg.blocks) || msg.blocks.length > LIMITS.blocks) return "invalid_blocks";
  return msg.blocks.every(validBlock) ? undefined : "invalid_blocks";
}

type Obj = Record<string, unknown>;

function validText(t: unknown, max: number, types = ["mrkdwn", "plain_text"]): boolean {
  const o = t as Obj;
  return typeof o === "object" && o !== null && types.includes(o.type as string) &&
    typeof o.text === "string" && o.text.length >= 1 && o.text.length <= max;
}

function validBlock(b: unknown): boolean {
  const o = b as Obj;
  if (typeof o !== "object" || o === null) return false;
  switch (o.type) {
    case "header":
      return validText(o.text, LIMITS.header, ["plain_text"]);
    case "section": {
      if (o.text === undefined && o.fields === undefined) return false;
      if (o.text !== undefined && !validText(o.text, LIMITS.text)) return false;
      if (o.fields === undefined) return true;
      return Array.isArray(o.fields) && o.fields.length >= 1 && o.fields.length <= LIMITS.fields &&
        o.fields.every((f) => validText(f, LIMITS.field));
    }
    case "context":
      return Array.isArray(o.elements) && o.elements.length >= 1 &&
        o.elements.length <= LIMITS.context && o.elements.every((e) => validText(e, LIMITS.text));
    case "divider":
      return true;
    default:
      return false;
  }
}

/** Starts the fake; only POSTs to its webhook's path are taken (another path is a 404, as Slack's "no_service"). */
export function startSlackFake(): SlackFake {
  const path = `/services/T0FAKE/B0FAKE/${crypto.randomUUID().replaceAll("-", "")}`;
  const fake = startScripted((req, body) => {
    if (req.method !== "POST" || new URL(req.url).pathname !== path) {
      return new Response("no_service", { status: 404 });
    }
    const refusal = slackRefusal(body);
    return refusal
      ? new Response(refusal, { status: 400 })
      : new Response("ok", { headers: { "content-type": "text/html" } });
  });
  return { ...fake, webhook: `${fake.url}${path}` };
}
