/**
 * The error of an answer other than 2xx: its status as `code`, and its body, as the client
 * library's own errors carry them (toKubeError reads both).
 */
export function statusError(status: number, body: string): Error {
  return Object.assign(new Error(`the API server answered ${status}`), { code: status, body });
}
