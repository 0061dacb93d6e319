// Google's Security Token Service as the Compute fake serves it (POST /v1/token): the token
// exchange of Workload Identity Federation, which google-auth-library performs for an
// `external_account` credentials file. It swaps the expected subject token (read by the library
// from `credential_source.file`) for the fake's access token, so tests reach Application Default
// Credentials through GOOGLE_APPLICATION_CREDENTIALS with no network beyond loopback.

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The audience the fake's credentials files name (a workload identity pool's provider). */
export function stsAudience(projectNumber: string): string {
  return `//iam.googleapis.com/projects/${projectNumber}/locations/global/` +
    `workloadIdentityPools/heal-pool/providers/heal-provider`;
}

/** An `external_account` credentials file's content for the fake at `url`. */
export function externalAccountCredentials(
  fake: { url: string; projectNumber: string },
  subjectTokenFile: string,
): Record<string, unknown> {
  return {
    type: "external_account",
    audience: stsAudience(fake.projectNumber),
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: `${fake.url}/v1/token`,
    credential_source: { file: subjectTokenFile },
  };
}

function oauthError(error: string, description: string): Response {
  return Response.json({ error, error_description: description }, { status: 400 });
}

/** Answers a token exchange: the access token for the expected subject token, else 400. */
export async function exchangeToken(
  req: Request,
  expected: { subjectToken: string; audience: string; accessToken: string },
): Promise<Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    await req.body?.cancel();
    return oauthError("invalid_request", "Request must be application/x-www-form-urlencoded.");
  }
  const form = new URLSearchParams(await req.text());
  if (form.get("grant_type") !== TOKEN_EXCHANGE) {
    return oauthError(
      "unsupported_grant_type",
      `Unsupported grant_type: ${form.get("grant_type")}`,
    );
  }
  if (form.get("requested_token_type") !== ACCESS_TOKEN_TYPE) {
    return oauthError("invalid_request", "Invalid requested_token_type.");
  }
  if (form.get("audience") !== expected.audience) {
    return oauthError(
      "invalid_target",
      'The target service indicated by the "audience" parameters is invalid.',
    );
  }
  if (form.get("subject_token") !== expected.subjectToken) {
    return oauthError("invalid_grant", "The subject token is invalid or expired.");
  }
  return Response.json({
    access_token: expected.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: 3600,
  });
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A service account's key, as the private key file Google hands out, for a token endpoint. */
export interface ServiceAccountKey {
  /** The key file's content (`type: service_account`), `token_uri` the fake's. */
  file: Record<string, unknown>;
  clientEmail: string;
  /** What checks the grants signed with the file's private key. */
  publicKey: CryptoKey;
}

/** Makes a service account key (RSA, 2048 bits) whose grants go to `tokenUri`. */
export async function makeServiceAccountKey(
  project: string,
  tokenUri: string,
): Promise<ServiceAccountKey> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const base64 = btoa(String.fromCharCode(...pkcs8)).replace(/(.{64})/g, "$1\n");
  const clientEmail = `node-heal@${project}.iam.gserviceaccount.com`;
  return {
    file: {
      type: "service_account",
      project_id: project,
      private_key_id: "0123456789abcdef0123456789abcdef01234567",
      private_key: `-----BEGIN PRIVATE KEY-----\n${base64.trim()}\n-----END PRIVATE KEY-----\n`,
      client_email: clientEmail,
      client_id: "112233445566778899000",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: tokenUri,
    },
    clientEmail,
    publicKey: pair.publicKey,
  };
}

function base64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - b64.length % 4) % 4)), (c) => c.charCodeAt(0));
}

/**
 * Answers a JWT bearer grant, as Google's OAuth token endpoint does for a service account key: the
 * access token when the assertion is signed by the key, names its account, this endpoint and a
 * scope, and has not expired; else 400.
 */
export async function grantJwt(
  req: Request,
  expected: { key: ServiceAccountKey; audience: string; accessToken: string },
): Promise<Response> {
  const form = new URLSearchParams(await req.text());
  if (form.get("grant_type") !== JWT_BEARER) {
    return oauthError("unsupported_grant_type", "Invalid grant_type.");
  }
  const [header, payload, signature] = (form.get("assertion") ?? "").split(".");
  const valid = header && payload && signature && await crypto.subtle.verify(
    "RSASSA-PKCS1-v1_5",
    expected.key.publicKey,
    base64url(signature),
    new TextEncoder().encode(`${header}.${payload}`),
  ).catch(() => false);
  if (!valid) return oauthError("invalid_grant", "Invalid JWT Signature.");
  const claims = JSON.parse(new TextDecoder().decode(base64url(payload)));
  if (claims.iss !== expected.key.clientEmail || claims.aud !== expected.audience) {
    return oauthError("invalid_grant", "Invalid JWT: Token must be a short-lived token.");
  }
  if (!(claims.exp * 1000 > Date.now()) || !String(claims.scope ?? "")) {
    return oauthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
  }
  return Response.json({
    access_token: expected.accessToken,
    expires_in: 3599,
    token_type: "Bearer",
  });
}
