// A fake PagerDuty Events API v2 (`/v2/enqueue`): it checks an event the way PagerDuty does and
// answers 202 {"status":"success",...}, or 400 {"status":"invalid event","errors":[...]}.
import { type ScriptedFake, startScripted } from "./scripted_http.ts";

/** Why PagerDuty would refuse `body`, or undefined when it would take it. */
export function pagerDutyErrors(body: string): string[] {
  let ev: Record<string, unknown>;
  try {
    ev = JSON.parse(body);
  } catch {
    return ["Event object is invalid"];
  }
  const errors: string[] = [];
  if (typeof ev.routing_key !== "string" || ev.routing_key.length !== 32) {
    errors.push("'routing_key' must be 32 characters");
  }
  if (!["trigger", "acknowledge", "resolve"].includes(ev.event_action as string)) {
    errors.push("'event_action' is invalid");
  }
  if (
    ev.dedup_key !== undefined && (typeof ev.dedup_key !== "string" || ev.dedup_key.length > 255)
  ) {
    errors.push("'dedup_key' must be at most 255 characters");
  }
  if (ev.event_action !== "trigger" && ev.dedup_key === undefined) {
    errors.push("'dedup_key' is required for acknowledge and resolve");
  }
  if (ev.event_action === "trigger") {
    const p = ev.payload as Record<string, unknown> | undefined;
    if (!p || typeof p !== "object") errors.push("'payload' is missing");
    else {
      if (typeof p.summary !== "string" || !p.summary || p.summary.length > 1024) {
        errors.push("'payload.summary' must be 1 to 1024 characters");
      }
      if (typeof p.source !== "string" || !p.source) errors.push("'payload.source' is missing");
      if (!["critical", "error", "warning", "info"].includes(p.severity as string)) {
        errors.push("'payload.severity' is invalid");
      }
    }
  }
  return errors;
}

/** Starts the fake; its endpoint is `${url}/v2/enqueue`. */
export function startPagerDutyFake(): ScriptedFake & { endpoint: string } {
  const fake = startScripted((req, body) => {
    if (req.method !== "POST" || new URL(req.url).pathname !== "/v2/enqueue") {
      return new Response("Not Found", { status: 404 });
    }
    const errors = pagerDutyErrors(body);
    if (errors.length > 0) {
      return Response.json(
        { status: "invalid event", message: "Event object is invalid", errors },
        {
          status: 400,
        },
      );
    }
    const { dedup_key } = JSON.parse(body);
    return Response.json(
      {
        status: "success",
        message: "Event processed",
        dedup_key: dedup_key ?? crypto.randomUUID(),
      },
      { status: 202 },
    );
  });
  return { ...fake, endpoint: `${fake.url}/v2/enqueue` };
}
