# syntax=docker/dockerfile:1
# Osprey, CPU image.
#   docker build -t osprey:cpu .
#   docker run -p 8000-8002:8000-8002 -v /path/to/models:/models:ro osprey:cpu --model-repository=/models
# Without --model-repository it serves the bundled model-repository/.
#
# Node 24 on Debian 13 (trixie, glibc 2.41): uWebSockets.js ships binaries for
# Node 20-25 that need glibc >= 2.38, so the HTTP engine loads natively here.
# Bases are pinned to exact versions; to pin by digest as well, pass
#   --build-arg NODE_IMAGE=node:24.22.3-trixie-slim@sha256:<digest>
# (test/deploy/dockerfile.test.ts checks these properties; see docs/deploy.md).
ARG NODE_IMAGE=node:24.22.3-trixie-slim

# ---- build: dev dependencies, the native addon (node-gyp), TypeScript ----
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/osprey
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY native ./native
COPY proto ./proto
COPY src ./src
# npm runs no onnxruntime-node install script (package.json allowScripts): its CPU
# binary ships in the package, nothing is downloaded.
# The project's own prepare/build scripts (the native addon) run here, with dev tools.
RUN npm ci --no-audit --no-fund \
 && npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && arch="$(node -p process.arch)" \
 && for d in node_modules/onnxruntime-node/bin/napi-v*/*/*; do \
      case "$d" in */linux/"$arch") ;; *) rm -rf "$d" ;; esac; \
    done \
 && find node_modules/uws-* -name 'uws_*.node' ! -name "uws_linux_${arch}_*.node" -delete

# Above: other platforms' native binaries (onnxruntime-node and uWebSockets.js ship
# macOS, Windows and other-architecture builds) are deleted, ~540 MB -> ~140 MB.

# ---- runtime: production dependencies, dist/src, proto/, the bundled repository ----
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="osprey" \
      org.opencontainers.image.description="Low-latency, Triton-compatible inference server for Node.js (ONNX Runtime, CPU)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /opt/osprey
COPY --from=build /opt/osprey/package.json ./package.json
COPY --from=build /opt/osprey/node_modules ./node_modules
COPY --from=build /opt/osprey/dist/src ./dist/src
COPY --from=build /opt/osprey/proto ./proto
COPY model-repository ./model-repository
# The image's `node` user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "dist/src/healthcheck.js", "ready"]
ENTRYPOINT ["node", "dist/src/main.js"]
# `docker stop` sends SIGKILL 10 s after SIGTERM: drain within 8. Kubernetes sets its own
# arguments (deploy/kubernetes/), which replace these.
CMD ["--exit-timeout-secs=8"]
