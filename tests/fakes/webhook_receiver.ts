// A webhook receiver that verifies node-heal's signature as docs/notifications.md tells one to:
// HMAC-SHA256 (WebCrypto, not node-heal's code) over "<timestamp>.<body>", the timestamp within
// five minutes, the document's version. 204 when it checks out, 401 when it does not.
import { type ScriptedFake, startScripted } from "./scripted_http.ts";

const TOLERANCE_S = 5 * 60;

/** Why a receiver holding `key` would refuse the request, or undefined. */
export async function webhookRefusal(
  key: string,
  headers: Headers,
  body: string,
  nowMs = Date.now(),
): Promise<string | undefined> {
  const timestamp = headers.get("x-node-heal-timestamp") ?? "";
  const signature = headers.get("x-node-heal-signature") ?? "";
  if (!/^\d+$/.test(timestamp)) return "no timestamp";
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > TOLERANCE_S) return "stale timestamp";
  const m = /^v1=([0-9a-f]{64})$/.exec(signature);
  if (!m) return "no v1 signature";
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey(
    "raw",
    enc.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "verify",
    ],
  );
  const mac = Uint8Array.from(m[1].match(/../g)!.map((h) => parseInt(h, 16)));
  if (!await crypto.subtle.verify("HMAC", k, mac, enc.encode(`${timestamp}.${body}`))) {
    return "bad signature";
  }
  if (!headers.get("idempotency-key")) return "no Idempotency-Key";
  if (JSON.parse(body).version !== "node-heal.io/v1") return "unknown version";
  return undefined;
}

/** Starts the receiver; `key` undefined takes unsigned requests. */
export function startWebhookReceiver(key: string | undefined): ScriptedFake {
  return startScripted(async (req, body) => {
    const refusal = key === undefined ? undefined : await webhookRefusal(key, req.headers, body);
    return refusal ? new Response(refusal, { status: 401 }) : new Response(null, { status: 204 });
  });
}
