// `deno task bench:hostile`: what hostile input costs a running `deno task dev`, measured from
// outside the process (its RSS from ps, the answers it gives, the Node it writes). Prints a
// table, or with --json one JSON object. Not part of the tests: the tests assert the behaviour,
// this prints the figures.
import { nodeAddress, workerName } from "../../lib/embedded/seed/topology.ts";
import { statusLine } from "../support/raw_http.ts";

const JSON_OUT = Deno.args.includes("--json");
/** `deno task dev`'s default `--request-timeout`. */
const REQUEST_TIMEOUT_S = 30;
const encoder = new TextEncoder();

function note(text: string): void {
  if (!JSON_OUT) console.error(text);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resident memory of a process (MB), as `ps` reports it. */
async function rssMb(pid: number): Promise<number> {
  const ps = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(ps.stdout).trim()) / 1024;
}

function alert(
  status: "firing" | "resolved",
  instance: number,
  fingerprint: string,
  startsAt = "2026-11-28T10:00:00Z",
) {
  return {
    status,
    labels: { alertname: "NodeHighCPU", heal: "true", instance: `${nodeAddress(instance)}:9100` },
    annotations: {},
    startsAt,
    endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : "2026-11-28T10:05:00Z",
    fingerprint,
  };
}

function payload(status: "firing" | "resolved", alerts: unknown[]): string {
  return JSON.stringify({ version: "4", status, receiver: "node-heal", groupKey: "{}:{}", alerts });
}

/** The status line of the answer, or how the connection ended. */
async function answer(conn: Deno.Conn, limitMs: number): Promise<string> {
  return await statusLine(conn, limitMs) ?? `not cut within ${limitMs / 1000} s`;
}

async function main() {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-hostile-" });
  const policy = `${dir}/policy.yaml`;
  await Deno.writeTextFile(
    policy,
    "acknowledge: [minHealthyZero, highRate]\ngates: { minHealthy: 0, rate: { max: 1000000, window: 1h }, cooldown: 0s }\n",
  );
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,localhost",
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-env",
      new URL("../../lib/dev/dev_mode.ts", import.meta.url).pathname,
      `--listen=127.0.0.1:${port}`,
      "--embedded-api-listen=127.0.0.1:0",
      `--embedded-kubeconfig-out=${dir}/kubeconfig`,
      "--embedded-workers=3",
      `--config=${policy}`,
      "--log-level=error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const result: Record<string, number | string | boolean> = {};
  try {
    for (let i = 0;; i++) {
      try {
        const r = await fetch(`${url}/readyz`);
        await r.body?.cancel();
        if (r.ok) break;
      } catch {
        // Not listening yet.
      }
      if (i > 600) throw new Error("node-heal dev did not get ready in 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    const kubeconfig = await Deno.readTextFile(`${dir}/kubeconfig`);
    const api = /server:\s*(\S+)/.exec(kubeconfig)![1];
    const getNode = async (i: number) =>
      await (await fetch(`${api}/api/v1/nodes/${workerName(i)}`)).json();
    const post = async (body: string) => {
      const r = await fetch(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: r.status, text: await r.text() };
    };

    /** Waits until a notification about each worker is answered 200 again (90 s at most). */
    const servedAgain = async () => {
      for (let i = 1; i <= 3; i++) {
        for (let tries = 0;; tries++) {
          if ((await post(payload("resolved", [alert("resolved", i, "x")]))).status === 200) break;
          if (tries > 90) throw new Error("node-heal did not answer 200 again within 90 s");
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };

    // 1. One body as 20,000 one-byte chunks.
    await post(payload("firing", [])); // warm up the handler
    const before = await rssMb(child.pid);
    {
      const body = payload("resolved", [alert("resolved", 1, "chunky")]).padEnd(20_000, " ");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      ));
      for (const ch of body) await conn.write(encoder.encode(`1\r\n${ch}\r\n`));
      await conn.write(encoder.encode("0\r\n\r\n"));
      result.chunked_20000_answer = await answer(conn, 30_000);
      conn.close();
    }
    const after = await rssMb(child.pid);
    result.chunked_20000_rss_growth_mb = Number((after - before).toFixed(1));
    note(`chunked: ${result.chunked_20000_answer}, RSS +${result.chunked_20000_rss_growth_mb} MB`);

    // 1b. A body with its length, 20,000 bytes sent one byte to a write.
    {
      const body = payload("resolved", [alert("resolved", 1, "trickled")]).padEnd(20_000, " ");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(
        `POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      ));
      for (const ch of body) await conn.write(encoder.encode(ch));
      result.length_20000_answer = await answer(conn, 30_000);
      conn.close();
    }
    result.length_20000_rss_growth_mb = Number(((await rssMb(child.pid)) - after).toFixed(1));
    await new Promise((r) => setTimeout(r, 3000));
    result.both_rss_growth_after_3s_mb = Number(((await rssMb(child.pid)) - before).toFixed(1));
    note(`length: ${result.length_20000_answer}, RSS +${result.length_20000_rss_growth_mb} MB`);

    // 2. A body that trickles in at one byte a second.
    {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
      ));
      const t0 = performance.now();
      const trickle = setInterval(() => conn.write(encoder.encode(" ")).catch(() => {}), 1000);
      const got = await answer(conn, (REQUEST_TIMEOUT_S + 20) * 1000);
      clearInterval(trickle);
      result.slow_body_answer = got;
      result.slow_body_cut_after_s = Number(((performance.now() - t0) / 1000).toFixed(1));
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      note(`slow body: ${got} after ${result.slow_body_cut_after_s} s`);
    }

    // 2b. 500 connections trickling bodies at once, for 8 seconds.
    {
      const start = await rssMb(child.pid);
      const conns = await Promise.all(
        Array.from({ length: 500 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
      );
      const answers = conns.map((c) => answer(c, 10_000));
      for (const c of conns) {
        await c.write(encoder.encode(
          "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        )).catch(() => {});
      }
      for (let second = 1; second <= 8; second++) {
        await new Promise((r) => setTimeout(r, 1000));
        await Promise.all(conns.map((c) => c.write(encoder.encode(" ")).catch(() => {})));
        // Flat means the figure after 2 s is the figure after 8 s.
        if (second === 2 || second === 8) {
          result[`slow_500_rss_growth_${second}s_mb`] = Number(
            ((await rssMb(child.pid)) - start).toFixed(1),
          );
        }
      }
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Closed by node-heal.
        }
      }
      const got = await Promise.all(answers);
      const counts: Record<string, number> = {};
      for (const a of got) counts[a] = (counts[a] ?? 0) + 1;
      result.slow_500_answers = Object.entries(counts).map(([a, n]) => `${n}x ${a}`).join("; ");
      note(
        `500 slow bodies: ${result.slow_500_answers}, RSS +${result.slow_500_rss_growth_8s_mb} MB`,
      );
      // The webhook slots they held are free again once their request timeout passed.
      const t0 = performance.now();
      await servedAgain();
      result.slow_500_slots_free_after_s = Number(((performance.now() - t0) / 1000).toFixed(1));
    }

    // 3. Headers that never end.
    {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode("POST /webhook HTTP/1.1\r\nHost: x\r\n"));
      const t0 = performance.now();
      const got = await answer(conn, 40_000);
      result.open_headers_answer = got;
      result.open_headers_held_s = Number(((performance.now() - t0) / 1000).toFixed(1));
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      note(`open headers: ${got} after ${result.open_headers_held_s} s`);
    }

    // 4. Five alerts with 900 KB fingerprints.
    {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const fp = String(i).repeat(900_000);
        codes.push((await post(payload("firing", [alert("firing", 1, fp)]))).status);
      }
      result.big_fingerprint_codes = codes.join(",");
      const node = await getNode(1);
      result.big_fingerprint_annotations_bytes = JSON.stringify(node.metadata.annotations ?? {})
        .length;
      const events = await (await fetch(`${api}/api/v1/namespaces/default/events`)).json();
      result.big_fingerprint_largest_event_bytes = Math.max(
        0,
        ...events.items.map((e: { message?: string }) => (e.message ?? "").length),
      );
      result.status_bytes = (await (await fetch(`${url}/status`)).text()).length;
      note(`900 KB fingerprints: ${codes.join(",")}`);
    }

    // 5. 5,000 resolved alerts that hold nothing, on every node.
    {
      const alerts = Array.from(
        { length: 5000 },
        (_, i) => alert("resolved", 1 + (i % 3), `r${i}`),
      );
      const t0 = performance.now();
      const r = await post(payload("resolved", alerts));
      result.resolved_5000_code = r.status;
      result.resolved_5000_ms = Math.round(performance.now() - t0);
      note(`5,000 resolved: ${r.status} in ${result.resolved_5000_ms} ms`);
      // Wait until every node's turn is free.
      await servedAgain();
    }

    // 6. 200 alerts hold worker 2; 199 resolve; is it still cordoned?
    {
      const firing = Array.from({ length: 200 }, (_, i) => alert("firing", 2, `h${i}`));
      result.held_by_200_firing_code = (await post(payload("firing", firing))).status;
      const resolved = firing.slice(0, 199).map((a) => ({ ...a, status: "resolved" }));
      await post(payload("resolved", resolved));
      result.held_by_200_cordoned_after_199_resolved = (await getNode(2)).spec?.unschedulable ===
        true;
      await post(payload("resolved", [{ ...firing[199], status: "resolved" }]));
      result.held_by_200_uncordoned_after_all_resolved = (await getNode(2)).spec?.unschedulable !==
        true;
    }

    // 7. A firing delivered after its own resolution.
    {
      const codes = [
        (await post(payload("firing", [alert("firing", 3, "late")]))).status,
        (await post(payload("resolved", [alert("resolved", 3, "late")]))).status,
        (await post(payload("firing", [alert("firing", 3, "late")]))).status,
      ];
      result.stale_firing_codes = codes.join(",");
      result.stale_firing_cordoned_again = (await getNode(3)).spec?.unschedulable === true;
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(48)} ${v}`);
  }
}

await main();
