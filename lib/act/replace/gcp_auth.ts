// Access tokens for the Compute Engine API from Application Default Credentials, through
// google-auth-library alone: the metadata server (GKE Workload Identity, a VM's service account),
// or the credentials file that GOOGLE_APPLICATION_CREDENTIALS names (a service account key, an
// `external_account` of Workload Identity Federation, gcloud's `authorized_user`). The library
// caches a token and refreshes it before it expires. @google-cloud/compute would do the same with
// six times the memory (docs/replace-clouds.md has the figures).
import { setGCPResidency } from "gcp-metadata";
import { GoogleAuth } from "google-auth-library";
import { cappedFetch } from "../../base/bounded_read.ts";

/** Where bearer tokens come from. */
export interface TokenSource {
  /** A valid access token; rejects when none can be had (the caller's attempt may pass). */
  token(): Promise<string>;
}

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * GoogleAuth, whose check for a metadata server survives Deno's permissions: gcp-metadata looks
 * for Google's BIOS files, then reads `os.networkInterfaces()` for Google's MAC prefix, which
 * Deno allows only with --allow-sys, and does so again before each of its requests. Where it is
 * refused, the metadata server is asked directly (GCE_METADATA_HOST as the library reads it) and
 * the answer set as the library's residency, so it looks no further.
 */
class DenoGoogleAuth extends GoogleAuth {
  #onGce?: boolean;

  override async _checkIsGCE(): Promise<boolean> {
    if (this.#onGce !== undefined) return this.#onGce;
    try {
      return await super._checkIsGCE();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotCapable)) throw e;
    }
    const host = Deno.env.get("GCE_METADATA_IP") || Deno.env.get("GCE_METADATA_HOST") ||
      "169.254.169.254";
    const base = /^https?:\/\//.test(host) ? host : `http://${host}`;
    try {
      const res = await fetch(new URL("/computeMetadata/v1/instance", base), {
        headers: { "metadata-flavor": "Google" },
        signal: AbortSignal.timeout(3_000),
      });
      await res.body?.cancel();
      this.#onGce = res.ok && res.headers.get("metadata-flavor") === "Google";
    } catch {
      this.#onGce = false;
    }
    setGCPResidency(this.#onGce);
    return this.#onGce;
  }
}

/** The largest answer of Google's token endpoints node-heal reads (docs/limits.md). */
export const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024;

/**
 * A token source of Application Default Credentials; `keyFile` is the credentials file to use
 * instead of looking for one (node-heal passes GOOGLE_APPLICATION_CREDENTIALS as its env has it).
 */
export function adcTokens(keyFile?: string): TokenSource {
  const auth = new DenoGoogleAuth({
    scopes: SCOPE,
    ...(keyFile ? { keyFilename: keyFile } : {}),
    // Without a project id, making the client looks one up (the Resource Manager API for an
    // external account): a call and a permission node-heal needs not, as every request names
    // its project. This id is never sent.
    projectId: "node-heal-unused",
    // gaxios would send through node-fetch and node:https, which reads the system CA store that
    // Deno allows only with --allow-sys; Deno's fetch needs only --allow-net.
    // Each answer is capped as it is read: gaxios reads it whole.
    clientOptions: {
      transporterOptions: {
        fetchImplementation: cappedFetch(MAX_TOKEN_ANSWER_BYTES, "A Google token answer"),
      },
    },
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
