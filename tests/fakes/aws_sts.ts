// A fake of STS's AssumeRoleWithWebIdentity, the call that IRSA's credentials are made by: it
// records the role and the web identity token it is given and answers the real XML with the keys
// it was started with (the Auto Scaling fake's, so the signed calls that follow are accepted).

export interface AwsStsFake {
  url: string;
  /** The form of each AssumeRoleWithWebIdentity received. */
  calls: Record<string, string>[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the fake on loopback; `keys` are the credentials it hands out. */
export function startAwsStsFake(
  keys: { accessKeyId: string; secretAccessKey: string },
): AwsStsFake {
  const calls: Record<string, string>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const form = Object.fromEntries(new URLSearchParams(await req.text()));
    calls.push(form);
    if (form.Action !== "AssumeRoleWithWebIdentity" || !form.WebIdentityToken) {
      return new Response(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
          `<Code>InvalidAction</Code><Message>Could not find operation ${form.Action}</Message>` +
          `</Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`,
        { status: 400, headers: { "content-type": "text/xml" } },
      );
    }
    const expiration = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}/, "");
    return new Response(
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n` +
        `  <AssumeRoleWithWebIdentityResult>\n` +
        `    <SubjectFromWebIdentityToken>system:serviceaccount:node-heal:node-heal</SubjectFromWebIdentityToken>\n` +
        `    <AssumedRoleUser>\n      <Arn>${
          form.RoleArn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
        }/${form.RoleSessionName}</Arn>\n` +
        `      <AssumedRoleId>AROAFAKEEXAMPLE:${form.RoleSessionName}</AssumedRoleId>\n    </AssumedRoleUser>\n` +
        `    <Credentials>\n      <SessionToken>fake-session-token</SessionToken>\n` +
        `      <SecretAccessKey>${keys.secretAccessKey}</SecretAccessKey>\n` +
        `      <Expiration>${expiration}</Expiration>\n` +
        `      <AccessKeyId>${keys.accessKeyId}</AccessKeyId>\n    </Credentials>\n` +
        `    <Provider>oidc.eks.eu-west-1.amazonaws.com</Provider>\n    <Audience>sts.amazonaws.com</Audience>\n` +
        `  </AssumeRoleWithWebIdentityResult>\n` +
        `  <ResponseMetadata>\n    <RequestId>${crypto.randomUUID()}</RequestId>\n  </ResponseMetadata>\n` +
        `</AssumeRoleWithWebIdentityResponse>\n`,
      { headers: { "content-type": "text/xml" } },
    );
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
