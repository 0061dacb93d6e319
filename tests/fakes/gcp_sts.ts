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
