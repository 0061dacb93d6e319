// The bench's own processes and what it reads of them: node-heal (`main.ts serve`) and its CPU
// floor (floor_process.ts) as processes of their own, their CPU time, and a relay that counts the
// connections node-heal opens to the API.

/** The V8 flags node-heal ships with (deno task serve, the binary): its memory is measured with them. */
export const SERVE_V8_FLAGS: string[] = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).tasks.serve.split(" ").filter((a: string) => a.startsWith("--v8-flags="));

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** CPU clock ticks per second, for the times in /proc/<pid>/stat. */
export async function clockTicks(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** The CPU time (user + system, every thread) of process `pid` so far, in ticks. */
export async function cpuTicks(pid: number): Promise<number> {
  // Deno reads /proc only with every permission; cat reads it for us.
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
  const stat = new TextDecoder().decode(out.stdout);
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  return Number(fields[11]) + Number(fields[12]);
}

/** A TCP relay in front of `port` on loopback that counts the connections it accepts. */
export function countingRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  // Connections by their first request, such as "PATCH /api/v1/nodes/{name}".
  let byRequest = new Map<string, number>();
  const open = new Set<Deno.Conn>();
  const pump = async (from: Deno.Conn, to: Deno.Conn, inbound: boolean) => {
    const buf = new Uint8Array(64 * 1024);
    let first = inbound;
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) return;
        if (first) {
          first = false;
          const line = new TextDecoder().decode(buf.subarray(0, Math.min(n, 512))).split("\r\n")[0];
          const [method, target = ""] = line.split(" ");
          const key = `${method} ${
            target.split("?")[0].replace(/\/nodes\/[^/]+/, "/nodes/{name}")
          }`;
          byRequest.set(key, (byRequest.get(key) ?? 0) + 1);
        }
        for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // The other side closed.
    }
  };
  const close = (c: Deno.Conn) => {
    if (!open.delete(c)) return;
    try {
      c.close();
    } catch {
      // Already closed.
    }
  };
  (async () => {
    for await (const inbound of listener) {
      accepted++;
      open.add(inbound);
      Deno.connect({ hostname: "127.0.0.1", port }).then((outbound) => {
        open.add(outbound);
        const done = () => {
          close(inbound);
          close(outbound);
        };
        pump(inbound, outbound, true).finally(done);
        pump(outbound, inbound, false).finally(done);
      }, () => close(inbound));
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => accepted,
    byRequest: () => byRequest,
    reset() {
      accepted = 0;
      byRequest = new Map();
    },
    close() {
      listener.close();
      for (const c of [...open]) close(c);
    },
  };
}

/** node-heal as its own process (`main.ts serve`) with `kubeconfig`, once it is ready. */
export function healProcess(kubeconfig: string, policy?: string): Promise<OwnProcess> {
  return ownProcess("node-heal", kubeconfig, policy, (port, dir) => [
    new URL("../../main.ts", import.meta.url).pathname,
    "serve",
    `--listen=127.0.0.1:${port}`,
    `--kubeconfig=${dir}/kubeconfig`,
    ...(policy ? [`--config=${dir}/policy.yaml`] : []),
    "--log-level=warning",
  ]);
}

/**
 * node-heal's floor (floor_process.ts: the same cluster I/O per cordon, nothing else) as its own
 * process with `kubeconfig`, node-heal's V8 flags and permissions, once it is ready.
 */
export function floorProcess(kubeconfig: string): Promise<OwnProcess> {
  return ownProcess("the floor", kubeconfig, undefined, (port, dir) => [
    new URL("./floor_process.ts", import.meta.url).pathname,
    `${dir}/kubeconfig`,
    String(port),
  ]);
}

/** A process of the bench's, serving notifications at `url`. */
export interface OwnProcess {
  readyMs: number;
  url: string;
  pid: number;
  rssMb(): Promise<number>;
  close(): Promise<void>;
}

/** Runs `script` (its arguments, given a port and a directory holding `kubeconfig`) until ready. */
async function ownProcess(
  what: string,
  kubeconfig: string,
  policy: string | undefined,
  script: (port: number, dir: string) => string[],
): Promise<OwnProcess> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-bench-proc-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, kubeconfig);
  if (policy) await Deno.writeTextFile(`${dir}/policy.yaml`, policy);
  const port = freePort();
  const t0 = performance.now();
  // node-heal's permissions as `deno task serve` runs it, and its V8 flags.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVE_V8_FLAGS,
      "--allow-net",
      "--allow-read",
      "--allow-env",
      ...script(port, dir),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const close = async () => {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        await r.body?.cancel();
        if (r.ok) break;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - t0 > 120_000) {
        throw new Error(`${what} did not get ready in 2 minutes`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    readyMs: performance.now() - t0,
    url: `http://127.0.0.1:${port}/webhook`,
    pid: child.pid,
    async rssMb(): Promise<number> {
      // Deno reads /proc only with every permission; ps tells the same resident size.
      const ps = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(child.pid)] })
        .output();
      return Number(new TextDecoder().decode(ps.stdout).trim()) / 1024;
    },
    close,
  };
}
