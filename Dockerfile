# node-heal: one binary from `deno compile`, in a distroless image.
#   docker build -t ghcr.io/node-heal/node-heal:0.9.0 .   (the tag of lib/version.ts)
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
# Permissions are baked into the binary, narrowed to what the service needs: the network
# (webhook and API server), environment variables (configuration, in-cluster discovery), and
# reading the service-account token and a mounted kubeconfig or configuration.
# V8's heap is sized for the Deployment's memory limit (docs/performance.md: memory): a small young
# generation, and an old generation well under the limit, which leaves room for the runtime.
RUN deno compile --frozen \
      --v8-flags=--max-semi-space-size=2,--max-old-space-size=192 \
      --allow-net \
      --allow-env \
      --allow-read=/var/run/secrets/kubernetes.io/serviceaccount,/etc/node-heal,/home/nonroot/.kube \
      --output /out/node-heal main.ts

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/node-heal /usr/local/bin/node-heal
USER nonroot:nonroot
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/node-heal"]
CMD ["serve"]
