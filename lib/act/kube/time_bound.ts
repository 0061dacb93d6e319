import { deadline } from "../../base/timing.ts";
import { KubeError } from "./types.ts";

/** Fails `call` as a timeout after `ms`; the request itself is left to finish on its own. */
export function timeBound<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return deadline(
    call,
    ms,
    () => new KubeError(`Cannot ${what}: the API server did not answer within ${ms} ms`),
  );
}
