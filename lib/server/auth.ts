/** Credentials the webhook accepts: a bearer token, basic-auth users, or both. */
export interface Credentials {
  bearerTokens: string[];
  /** `user` -> `password`. */
  basicUsers: Map<string, string>;
}

/** Whether any credentials are configured (then every webhook request must carry them). */
export function hasCredentials(c: Credentials | undefined): c is Credentials {
  return !!c && (c.bearerTokens.length > 0 || c.basicUsers.size > 0);
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Compares two secrets in time that does not depend on where they differ. */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** Checks an `Authorization` header against the credentials; true when they match. */
export async function authorized(header: string | null, c: Credentials): Promise<boolean> {
  if (!header) return false;
  const space = header.indexOf(" ");
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") {
    let ok = false;
    // Check every token, so that timing does not tell which one was close.
    for (const token of c.bearerTokens) ok = (await sameSecret(value, token)) || ok;
    return ok;
  }
  if (scheme === "basic" && c.basicUsers.size > 0) {
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)));
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const expected = c.basicUsers.get(user) ?? "\u0000no such user";
    const ok = await sameSecret(password, expected);
    return ok && c.basicUsers.has(user);
  }
  return false;
}

/** The `WWW-Authenticate` header of a 401, naming the schemes accepted. */
export function challenge(c: Credentials): string {
  const schemes: string[] = [];
  if (c.bearerTokens.length > 0) schemes.push('Bearer realm="node-heal"');
  if (c.basicUsers.size > 0) schemes.push('Basic realm="node-heal", charset="UTF-8"');
  return schemes.join(", ");
}

/** Reads `user:password` lines (blank lines and `#` comments skipped); throws naming the line. */
export function parseBasicUsers(text: string, source: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    if (colon <= 0 || colon === line.length - 1) {
      throw new Error(`Cannot read ${source}: line ${i + 1} must be user:password`);
    }
    users.set(line.slice(0, colon), line.slice(colon + 1));
  });
  return users;
}
