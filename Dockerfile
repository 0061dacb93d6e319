# node-heal: one binary from `deno compile`, in a distroless image.
#   docker build -t ghcr.io/node-heal/node-heal:0.13.1 .   (the tag of lib/base/version.ts)
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
# `deno task compile` (deno.json) is the one build, here and on a workstation: it type-checks with
# Deno's default heap, then compiles without checking again, embedding the service's V8 flags (a
# small young generation, an old generation well under the Deployment's memory limit:
# docs/performance.md) so that they bind the service and not the compiler. Its permission flags are
# the binary's, the list docs/security.md explains: the network, environment variables, and reading
# only /var/run/secrets (the service account, IRSA's and EKS Pod Identity's tokens, mounted
# secrets), /var/secrets (a Google key file), /etc/node-heal (policy, webhook token, TLS) and
# ~/.kube. tests/image/ runs these commands on a cold cache, and starts `main.ts serve` with exactly
# these flags in each documented setup.
RUN deno task compile

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/node-heal /usr/local/bin/node-heal
USER nonroot:nonroot
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/node-heal"]
CMD ["serve"]
