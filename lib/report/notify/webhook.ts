// The generic webhook: a versioned JSON document, signed so a receiver can tell it came from
// node-heal and is fresh (an HMAC over the timestamp and the body), with an Idempotency-Key so a
// receiver can drop a repeat (a retry after an answer that was lost).
import { createHmac } from "node:crypto";
import { post } from "./http.ts";
import type { Attempt, NotifyEvent, Sink } from "./types.ts";

/** The document's version: a receiver checks it before it reads the fields. */
export const WEBHOOK_VERSION = "node-heal.io/v1";

/** The webhook's JSON body: `version`, then the event's fields. */
export function webhookDocument(event: NotifyEvent): string {
  return JSON.stringify({ version: WEBHOOK_VERSION, ...event });
}

/** `v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`: the value of X-Node-Heal-Signature. */
export function webhookSignature(key: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** The headers of one POST, signed when there is a key; the timestamp is unix seconds. */
export function webhookHeaders(
  event: NotifyEvent,
  body: string,
  key: string | undefined,
  extra: Record<string, string>,
  nowMs: number,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    ...extra,
    "content-type": "application/json",
    "idempotency-key": event.id,
    "x-node-heal-timestamp": String(timestamp),
    ...(key === undefined
      ? {}
      : { "x-node-heal-signature": webhookSignature(key, timestamp, body) }),
  };
}

/** A webhook; `key` (the HMAC key) is the secret, and is optional. */
export class WebhookSink implements Sink {
  readonly type = "webhook" as const;
  // #private: no log of the sink object can show the HMAC key.
  readonly #key: string | undefined;
  constructor(
    readonly name: string,
    private readonly url: string,
    key: string | undefined,
    private readonly headers: Record<string, string>,
    private readonly now: () => number = Date.now,
  ) {
    this.#key = key;
  }

  deliver(event: NotifyEvent, signal: AbortSignal): Promise<Attempt> {
    const body = webhookDocument(event);
    // Signed at each attempt, so a retry's timestamp is fresh within a receiver's window.
    return post({
      url: this.url,
      body,
      headers: webhookHeaders(event, body, this.#key, this.headers, this.now()),
      signal,
      secrets: this.#key === undefined ? [] : [this.#key],
    });
  }
}
