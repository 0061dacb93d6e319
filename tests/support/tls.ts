// Certificates for tests of TLS: a CA, and a server certificate it signed for 127.0.0.1 and
// localhost, made with the real openssl (tests skip when it is missing).

async function openssl(...args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Whether openssl runs here. */
export const HAS_OPENSSL = await openssl("version");

/**
 * Writes `ca.crt`, `ca.key`, `tls.crt` and `tls.key` (the server's, for 127.0.0.1, localhost and
 * `names`) into `dir`.
 */
export async function makeCertificates(dir: string, names: string[] = []): Promise<void> {
  const ok = await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.crt`,
    "-subj",
    "/CN=test-ca",
    "-days",
    "1",
  ) &&
    await openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${dir}/tls.key`,
      "-out",
      `${dir}/tls.csr`,
      "-subj",
      "/CN=localhost",
    );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    `subjectAltName=${["IP:127.0.0.1", ...["localhost", ...names].map((n) => `DNS:${n}`)]}\n`,
  );
  if (
    !ok ||
    !await openssl(
      "x509",
      "-req",
      "-in",
      `${dir}/tls.csr`,
      "-CA",
      `${dir}/ca.crt`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-out",
      `${dir}/tls.crt`,
      "-days",
      "1",
      "-extfile",
      `${dir}/ext.cnf`,
    )
  ) throw new Error("openssl could not make the test certificates");
}

/**
 * A TLS front on 127.0.0.1:`port` (0: any) for `upstream` (an embedded API server, a fake), with
 * the server certificate of `dir`; it counts the connections made to it.
 */
export function tlsFront(dir: string, upstream: string, port = 0) {
  const seen = new Set<string>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    cert: Deno.readTextFileSync(`${dir}/tls.crt`),
    key: Deno.readTextFileSync(`${dir}/tls.key`),
    onListen() {},
  }, async (req, info) => {
    seen.add(`${info.remoteAddr.hostname}:${info.remoteAddr.port}`);
    const url = new URL(req.url);
    const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    connections: () => seen.size,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
