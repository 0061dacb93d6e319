// What the e2e tests share to run the real Prometheus and Alertmanager beside node-heal: the
// binaries' presence, free ports, child processes, Prometheus's HTTP API.
export { freePort } from "../support/processes.ts";

/** Fails with the install hint when a binary the e2e needs is not on PATH. */
export async function need(bin: string): Promise<void> {
  try {
    await new Deno.Command(bin, { args: ["--version"], stdout: "null", stderr: "null" }).output();
  } catch {
    throw new Error(
      `deno task e2e needs "${bin}" on PATH: apt-get install prometheus prometheus-alertmanager`,
    );
  }
}

/**
 * Starts a process; `exited` settles when it ends by itself or is stopped; stop() ends it and
 * returns what it wrote to stderr.
 */
export function spawn(bin: string, args: string[]) {
  const child = new Deno.Command(bin, { args, stdout: "null", stderr: "piped" }).spawn();
  const stderr = new Response(child.stderr).text();
  return {
    exited: child.status,
    async stop(): Promise<string> {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      return await stderr;
    },
  };
}

/** True once a URL answers 2xx. */
export async function ready(url: string): Promise<boolean> {
  const r = await fetch(url);
  await r.body?.cancel();
  return r.ok;
}

/** One series of an instant query's answer. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query against Prometheus's HTTP API; throws on an error answer. */
export async function query(promUrl: string, expr: string): Promise<Sample[]> {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await r.json();
  if (body.status !== "success") throw new Error(`${expr}: ${body.errorType}: ${body.error}`);
  if (body.data.resultType !== "vector") {
    throw new Error(`${expr}: a ${body.data.resultType}, not a vector`);
  }
  return body.data.result;
}
