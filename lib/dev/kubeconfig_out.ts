/**
 * Writes an embedded cluster's kubeconfig (mode 0600), making its folder: first to a temporary
 * file beside it, then renamed into place, so a reader waiting for the file never reads half of it.
 */
export async function writeKubeconfig(path: string, yaml: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const partial = `${path}.${Deno.pid}.partial`;
  await Deno.writeTextFile(partial, yaml, { mode: 0o600 });
  await Deno.rename(partial, path);
}
