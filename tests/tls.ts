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
