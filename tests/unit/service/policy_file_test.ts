// The policy file is read within its byte bound, at start-up and at each reload: a larger file is
// refused having read at most the bound and one byte more.
import assert from "node:assert/strict";
import { readPolicyFile, readPolicyFileSync } from "../../../lib/service/policy_file.ts";
import { POLICY_LIMITS } from "../../../lib/decide/policy_yaml.ts";

Deno.test("readPolicyFile() and readPolicyFileSync() read a policy and refuse one past the bound", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-policy-file-" });
  try {
    const ok = `${dir}/ok.yaml`;
    await Deno.writeTextFile(ok, "gates: { maxConcurrent: 2 }\n");
    assert.equal(readPolicyFileSync(ok), "gates: { maxConcurrent: 2 }\n");
    assert.equal(await readPolicyFile(ok), "gates: { maxConcurrent: 2 }\n");

    const big = `${dir}/big.yaml`;
    await Deno.writeTextFile(big, "#".repeat(POLICY_LIMITS.bytes + 1));
    const tooLarge = (err: Error) =>
      err.name === "PolicyRefused" &&
      err.message ===
        `Cannot load policy ${big}: it is larger than 262144 bytes (262145 bytes); it was not read`;
    assert.throws(() => readPolicyFileSync(big), tooLarge);
    await assert.rejects(() => readPolicyFile(big), tooLarge);

    const binary = `${dir}/binary.yaml`;
    await Deno.writeFile(binary, new Uint8Array([0x61, 0xff, 0xfe]));
    assert.throws(() => readPolicyFileSync(binary), /it is not UTF-8 text/);
    await assert.rejects(() => readPolicyFile(binary), /it is not UTF-8 text/);

    // One that cannot be read is not a refusal of what it says.
    assert.throws(
      () => readPolicyFileSync(`${dir}/missing.yaml`),
      (err: Error) =>
        err.name === "Error" && /^Cannot load policy .*missing\.yaml: /.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
