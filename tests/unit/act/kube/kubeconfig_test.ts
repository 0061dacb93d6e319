import assert from "node:assert/strict";
import {
  KUBECONFIG_LIMITS,
  kubeconfigFromFile,
  kubeconfigFromString,
  kubeconfigInCluster,
} from "../../../../lib/act/kube/kubeconfig.ts";

const SECRET = "s3cr3t-t0k3n";

/** A kubeconfig of one context, its cluster and user fields as given (YAML flow maps). */
function kubeconfig(cluster: string, user: string, extra = ""): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{ name: c, cluster: { ${cluster} } }]`,
    "contexts: [{ name: ctx, context: { cluster: c, user: u, namespace: default } }]",
    "current-context: ctx",
    `users: [{ name: u, user: { ${user} } }]`,
    "preferences: {}",
    extra,
  ].join("\n");
}

/** The message of what `f` throws. */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("it did not throw");
}

Deno.test("kubeconfigFromString() reads the current context's server, CA data and token, and serves it without the library", () => {
  const kc = kubeconfigFromString(kubeconfig(
    "server: 'https://k.example:6443/', certificate-authority-data: Q0E=",
    `token: ${SECRET}`,
  ));
  assert.equal(kc.server, "https://k.example:6443");
  assert.equal(kc.cluster.caData, "Q0E=");
  assert.equal(kc.user?.token, SECRET);
  assert.equal(kc.library, undefined);
});

Deno.test("kubeconfigFromString() picks the cluster and user the current context names among several", () => {
  const kc = kubeconfigFromString([
    "clusters:",
    "- { name: a, cluster: { server: 'https://a:1' } }",
    "- { name: b, cluster: { server: 'https://b:2' } }",
    "contexts:",
    "- { name: one, context: { cluster: a, user: x } }",
    "- { name: two, context: { cluster: b, user: y } }",
    "current-context: two",
    "users: [{ name: x, user: { token: tx } }, { name: y, user: { username: me, password: pw } }]",
  ].join("\n"));
  assert.equal(kc.server, "https://b:2");
  assert.deepEqual([kc.user?.name, kc.user?.username, kc.user?.password], ["y", "me", "pw"]);
});

Deno.test("kubeconfigFromString() leaves relative paths alone and kubeconfigFromFile() resolves them against the file's folder", async () => {
  const text = kubeconfig(
    "server: 'https://k:6443', certificate-authority: certs/ca.crt",
    "client-certificate: certs/me.crt, client-key: /abs/me.key, tokenFile: token",
  );
  const untokened = text.replace(", tokenFile: token", "");
  assert.equal(kubeconfigFromString(untokened).cluster.caFile, "certs/ca.crt");
  const dir = await Deno.makeTempDir({ prefix: "node-heal-kubeconfig-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, SECRET);
    await Deno.writeTextFile(`${dir}/config`, text);
    const kc = kubeconfigFromFile(`${dir}/config`);
    assert.equal(kc.cluster.caFile, `${dir}/certs/ca.crt`);
    assert.equal(kc.user?.certFile, `${dir}/certs/me.crt`);
    assert.equal(kc.user?.keyFile, "/abs/me.key");
    assert.equal(kc.user?.tokenFile, `${dir}/token`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfigFromString() refuses a token file that cannot be read, at once", () => {
  const message = thrown(() =>
    kubeconfigFromString(kubeconfig("server: 'https://k:6443'", "tokenFile: /nonexistent/token"))
  );
  assert.match(message, /No such file|not found/i);
});

Deno.test("kubeconfigFromString() hands an exec plugin, an auth provider, a proxy, unverified TLS and a TLS server name to the library, text and folder kept", () => {
  const cases: [string, string, string][] = [
    ["server: 'https://k:6443'", "exec: { command: sh }", "an exec plugin"],
    ["server: 'https://k:6443'", "auth-provider: { name: oidc }", "an auth provider"],
    ["server: 'https://k:6443', proxy-url: 'http://p:3128'", "token: t", "a proxy"],
    ["server: 'https://k:6443', insecure-skip-tls-verify: true", "token: t", "TLS without"],
    ["server: 'https://k:6443', tls-server-name: api", "token: t", "a TLS server name"],
  ];
  for (const [cluster, user, reason] of cases) {
    const text = kubeconfig(cluster, user);
    const kc = kubeconfigFromString(text, "/etc/node-heal");
    assert.ok(kc.library?.reason.startsWith(reason), `${user}: ${kc.library?.reason}`);
    assert.equal(kc.library?.text, text);
    assert.equal(kc.library?.dir, "/etc/node-heal");
  }
});

Deno.test("kubeconfigFromString() serves plain HTTP marked insecure itself (the embedded cluster), and refuses it unmarked as the library does", () => {
  const plain = kubeconfigFromString(
    kubeconfig("server: 'http://127.0.0.1:8080', insecure-skip-tls-verify: true", "token: t"),
  );
  assert.equal(plain.library, undefined);
  assert.match(
    thrown(() => kubeconfigFromString(kubeconfig("server: 'http://127.0.0.1:8080'", "token: t"))),
    /^cluster "c" is reached over plain HTTP, which needs insecure-skip-tls-verify: true$/,
  );
});

Deno.test("kubeconfigFromString() says which context names no cluster, or a user that is not there", () => {
  const base = kubeconfig("server: 'https://k:6443'", `token: ${SECRET}`);
  const cases: [string, RegExp][] = [
    [base.replace("current-context: ctx", ""), /names no cluster: it has no current-context$/],
    [
      base.replace("current-context: ctx", "current-context: other"),
      /names no cluster: current-context "other" is not in contexts$/,
    ],
    [
      base.replace("cluster: c, user", "cluster: gone, user"),
      /names no cluster: context "ctx" names cluster "gone", which is not in clusters$/,
    ],
    [base.replace("cluster: c, user: u", "cluster: c, user: nobody"), /names user "nobody"/],
  ];
  for (const [text, expected] of cases) {
    const message = thrown(() => kubeconfigFromString(text));
    assert.match(message, expected);
    assert.ok(!message.includes(SECRET));
  }
  const anonymous = kubeconfigFromString(base.replace("cluster: c, user: u", "cluster: c"));
  assert.equal(anonymous.user, undefined, "a context with no user sends no credentials");
});

Deno.test("kubeconfigFromString() names a missing or mistyped field, as the library's entries do, quoting no value", () => {
  const cases: [string, RegExp][] = [
    [
      kubeconfig(`certificate-authority-data: ${SECRET}`, "token: t"),
      /"clusters\[0\].cluster.server" is missing/,
    ],
    [
      kubeconfig("server: 'https://k:6443'", "token: [a, b]"),
      /"users\[0\].user.token" Invalid input/,
    ],
    [
      kubeconfig(`server: 'https://k:6443', insecure-skip-tls-verify: ${SECRET}`, "token: t"),
      /"clusters\[0\].cluster.insecure-skip-tls-verify" Invalid input/,
    ],
    ["contexts: [{ context: { cluster: c } }]", /"contexts\[0\].name" is missing/],
  ];
  for (const [text, expected] of cases) {
    const message = thrown(() => kubeconfigFromString(text));
    assert.match(message, expected);
    assert.ok(!message.includes(SECRET), message);
  }
});

Deno.test("kubeconfigFromString() refuses malformed YAML by line and column only, never quoting the line", () => {
  const text = kubeconfig("server: 'https://k:6443'", `token: ${SECRET}`) + `\nx: [${SECRET}: : :`;
  const message = thrown(() => kubeconfigFromString(text));
  assert.match(message, /^it is not YAML at line \d+, column \d+/);
  assert.ok(!message.includes(SECRET), message);
  assert.equal(thrown(() => kubeconfigFromString("just a string")), "it is not a YAML mapping");
  assert.equal(thrown(() => kubeconfigFromString("")), "it is not a YAML mapping");
});

Deno.test("kubeconfigFromString() refuses nesting and aliases past the bounds before walking them", () => {
  assert.match(thrown(() => kubeconfigFromString("[".repeat(100_000))), /deeper than 32 levels/);
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 6; i++) {
    const prev = String.fromCharCode(96 + i);
    bomb.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${
        Array(10).fill(`*${prev}`).join(", ")
      }]`,
    );
  }
  assert.match(
    thrown(() => kubeconfigFromString(bomb.join("\n"))),
    /^its aliases expand past the bound of 100$/,
  );
});

Deno.test("kubeconfigFromFile() refuses a file over 1 MiB without reading it whole, and says so without its text", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-kubeconfig-" });
  try {
    const path = `${dir}/config`;
    await Deno.writeTextFile(path, `# ${SECRET}\n`.repeat(KUBECONFIG_LIMITS.bytes / 8));
    const message = thrown(() => kubeconfigFromFile(path));
    assert.match(message, /^it is larger than 1048576 bytes \(\d+ bytes\)$/);
    assert.match(thrown(() => kubeconfigFromFile(`${dir}/missing`)), /No such file|not found/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfigInCluster() reaches the service's host and port (an IPv6 host in brackets) with the account's CA and token file", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const kc = kubeconfigInCluster(
    env({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    "/sa",
  );
  assert.equal(kc.server, "https://10.0.0.1:443");
  assert.equal(kc.cluster.caFile, "/sa/ca.crt");
  assert.equal(kc.user?.tokenFile, "/sa/token");
  assert.equal(kc.library, undefined);
  const v6 = kubeconfigInCluster(
    env({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }),
  );
  assert.equal(v6.server, "https://[fd00::1]:6443");
  assert.equal(v6.cluster.caFile, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  assert.match(
    thrown(() => kubeconfigInCluster(env({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }))),
    /KUBERNETES_SERVICE_PORT must be set/,
  );
});

Deno.test("kubeconfigFromString() reads a server's scheme in any case: HTTP unmarked is refused, HTTPS unverified goes to the library", () => {
  assert.match(
    thrown(() => kubeconfigFromString(kubeconfig("server: 'HTTP://127.0.0.1:8080'", "token: t"))),
    /plain HTTP, which needs insecure-skip-tls-verify/,
  );
  const unverified = kubeconfigFromString(
    kubeconfig("server: 'HTTPS://k.example:6443', insecure-skip-tls-verify: true", "token: t"),
  );
  assert.equal(unverified.server, "https://k.example:6443");
  assert.equal(unverified.library?.reason, "TLS without verification");
  assert.match(
    thrown(() => kubeconfigFromString(kubeconfig("server: 'ftp://k.example'", "token: t"))),
    /^cluster "c"'s server is neither https nor http$/,
  );
  assert.match(
    thrown(() => kubeconfigFromString(kubeconfig("server: 'k.example:6443'", "token: t"))),
    /^cluster "c"'s server is/,
  );
});

Deno.test("kubeconfigFromString() refuses two clusters, users or contexts of one name, as kubectl does", () => {
  const twice = (list: string) =>
    kubeconfig("server: 'https://a.example'", `token: ${SECRET}`).replace(
      `${list}: [`,
      `${list}: [{ name: ${list === "contexts" ? "ctx" : list === "users" ? "u" : "c"}, ${
        list === "contexts"
          ? "context: { cluster: c }"
          : list === "users"
          ? "user: { token: other }"
          : "cluster: { server: 'https://b.example' }"
      } }, `,
    );
  for (const list of ["clusters", "users", "contexts"]) {
    const message = thrown(() => kubeconfigFromString(twice(list)));
    assert.match(message, new RegExp(`^it has two ${list} named "`), message);
    assert.ok(!message.includes(SECRET) && !message.includes("example"), message);
  }
});

Deno.test("kubeconfigFromString() prints none of the YAML parser's warnings, which quote the line", () => {
  const proc = (globalThis as unknown as { process: { emitWarning: (...a: unknown[]) => void } })
    .process;
  const warned: unknown[] = [];
  const emit = proc.emitWarning;
  proc.emitWarning = (...args: unknown[]) => void warned.push(args);
  try {
    const text = [
      "apiVersion: v1",
      "clusters:",
      "- name: c",
      "  cluster: { server: 'https://k.example' }",
      "contexts: [{ name: ctx, context: { cluster: c, user: u } }]",
      "current-context: ctx",
      "users:",
      "- name: u",
      `  user: { token: !tok ${SECRET} }`,
    ].join("\n");
    const kc = kubeconfigFromString(text);
    assert.equal(kc.user?.token, SECRET);
  } finally {
    proc.emitWarning = emit;
  }
  assert.deepEqual(warned, []);
});

Deno.test("kubeconfigFromString() says an alias that names no anchor is not YAML, not a bomb", () => {
  const message = thrown(() => kubeconfigFromString("x: 1\ny: *b\n"));
  assert.match(message, /^it is not YAML/);
});
