// Access tokens for the Compute Engine API from Application Default Credentials, through
// google-auth-library alone: the metadata server (GKE Workload Identity, a VM's service account),
// or the credentials file that GOOGLE_APPLICATION_CREDENTIALS names (a service account key, an
// `external_account` of Workload Identity Federation, gcloud's `authorized_user`). The library
// caches a token and refreshes it before it expires. @google-cloud/compute would do the same with
// six times the memory (docs/replace-clouds.md has the figures).
import { GoogleAuth } from "google-auth-library";

/** Where bearer tokens come from. */
export interface TokenSource {
  /** A valid access token; rejects when none can be had (the caller's attempt may pass). */
  token(): Promise<string>;
}

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * A token source of Application Default Credentials; `keyFile` is the credentials file to use
 * instead of looking for one (node-heal passes GOOGLE_APPLICATION_CREDENTIALS as its env has it).
 */
export function adcTokens(keyFile?: string): TokenSource {
  const auth = new GoogleAuth({
    scopes: SCOPE,
    ...(keyFile ? { keyFilename: keyFile } : {}),
    // Without a project id, making the client looks one up (the Resource Manager API for an
    // external account): a call and a permission node-heal needs not, as every request names
    // its project. This id is never sent.
    projectId: "node-heal-unused",
    // gaxios would send through node-fetch and node:https, which reads the system CA store that
    // Deno allows only with --allow-sys; Deno's fetch needs only --allow-net.
    clientOptions: { transporterOptions: { fetchImplementation: fetch } },
  });
  return {
    async token() {
      const client = await auth.getClient();
      const { token } = await client.getAccessToken();
      if (!token) throw new Error("Application Default Credentials gave no access token");
      return token;
    },
  };
}
