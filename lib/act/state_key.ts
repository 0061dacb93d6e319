// node-heal's state key: the secret its seal over its state on Nodes is made with (decide/seal.ts),
// kept in the Secret `node-heal-state-key` in node-heal's namespace, so that every replica, and
// every restart, seals and checks with the same key. The first replica to find none makes one
// (32 random bytes); the others read it. In a dry run nothing is stored, so the key lives and dies
// with the process.
import type { KubeClient, ObjectKind } from "./kube/types.ts";
import { KubeError } from "./kube/types.ts";
import { log } from "../base/log.ts";
import { retry, statusOf } from "../base/retry.ts";

/** The Secret that holds the key, in node-heal's namespace. */
export const STATE_KEY_SECRET = "node-heal-state-key";

/** Its key in the Secret's data. */
export const STATE_KEY_FIELD = "key";

/** Bytes of a key node-heal makes; one it reads must hold at least as many. */
export const STATE_KEY_BYTES = 32;

const SECRETS: ObjectKind = { group: "", version: "v1", plural: "secrets" };

/** Waits before each further try of a read or create that failed for a passing reason. */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000];

/**
 * Reads node-heal's state key from its Secret in `namespace`, or makes the Secret when there is
 * none (another replica's made meanwhile is read instead). Throws, saying what to change, when it
 * cannot (the Secret is unreadable, or holds a key too short).
 */
export async function loadStateKey(
  client: KubeClient,
  namespace: string,
): Promise<Uint8Array> {
  const where = `Secret ${namespace}/${STATE_KEY_SECRET}`;
  try {
    return await retry(async () => {
      const stored = await client.getObject(SECRETS, STATE_KEY_SECRET, namespace);
      if (stored) return keyOf(stored.data?.[STATE_KEY_FIELD], where);
      const key = crypto.getRandomValues(new Uint8Array(STATE_KEY_BYTES));
      if (client.dryRun) {
        log("main").warn(
          "Dry run: node-heal's state key is made for this process only ({secret})",
          {
            secret: where,
          },
        );
        return key;
      }
      try {
        await client.createObject(SECRETS, secretOf(namespace, key), { fenced: false });
        log("main").info("Made node-heal's state key in {secret}", { secret: where });
        return key;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        // Another replica made it first: its key is everyone's.
        const made = await client.getObject(SECRETS, STATE_KEY_SECRET, namespace);
        return keyOf(made?.data?.[STATE_KEY_FIELD], where);
      }
    }, { delaysMs: RETRY_DELAYS_MS });
  } catch (err) {
    const status = statusOf(err);
    const rights = status === 403
      ? `; node-heal's Role must allow get and create of secrets in ${namespace} (manifests/webhook-deployment.yaml)`
      : "";
    throw new Error(
      `Cannot read node-heal's state key from ${where}: ${(err as Error).message}${rights}`,
    );
  }
}

/** The key in a Secret's data (base64), checked. */
function keyOf(data: string | undefined, where: string): Uint8Array {
  let key: Uint8Array;
  try {
    key = Uint8Array.from(atob(data ?? ""), (c) => c.charCodeAt(0));
  } catch {
    throw new KubeError(`${where} holds no base64 "${STATE_KEY_FIELD}"`, 422);
  }
  if (key.length < STATE_KEY_BYTES) {
    throw new KubeError(
      `${where}: "${STATE_KEY_FIELD}" must hold at least ${STATE_KEY_BYTES} bytes, it holds ${key.length}; delete the Secret and node-heal makes a new one`,
      422,
    );
  }
  return key;
}

function secretOf(namespace: string, key: Uint8Array) {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: STATE_KEY_SECRET,
      namespace,
      labels: { "app.kubernetes.io/name": "node-heal" },
    },
    type: "Opaque",
    data: { [STATE_KEY_FIELD]: btoa(String.fromCharCode(...key)) },
  };
}
