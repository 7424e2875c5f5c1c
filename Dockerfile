# syntax=docker/dockerfile:1
#
# Gatehouse production image: build the TypeScript once, ship only dist/, bin/ and production dependencies.
#
#   docker build -t gatehouse:0.1.0 --build-arg IMAGE_SOURCE=https://github.com/<owner>/gatehouse .
#   docker run --rm -p 3000:3000 -e ISSUER=https://id.example.com -e DATABASE_URL=... -e REDIS_URL=... \
#     -e COOKIE_SECRETS=... -e KEY_ENCRYPTION_KEY=... gatehouse:0.1.0
#   docker run --rm ...same env... gatehouse:0.1.0 gatehouse migrate
#
# Both stages use the official Node 24 image rather than the `node` devDependency in package.json: that
# package only exists to give dev machines with an older system Node a Node 24 binary. Debian (glibc)
# rather than Alpine because argon2's prebuilt binary for glibc is the one tested with `npm test`, and
# bookworm-slim carries no compiler, so a missing prebuild fails the build loudly instead of compiling.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------------
# Build stage: full install (TypeScript and the rest of the devDependencies) and `npm run build`.
# Nothing from this stage reaches the image except dist/, so its node_modules is not pruned: the runtime
# stage installs production dependencies itself, from the same lock file.
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first, so editing the sources does not invalidate the (slow) dependency layer.
# NODE_ENV is deliberately left unset here: NODE_ENV=production would make npm skip devDependencies.
# Plain `npm ci` (scripts on) also installs the `node` devDependency's Node 24 binary from the registry:
# npm scripts put node_modules/.bin first on PATH, so `npm run build` runs tsc with that binary, and with
# --ignore-scripts it would be missing. It is the same Node major as the base image and stays in this stage.
COPY package.json package-lock.json ./
RUN npm ci

# Only what tsconfig.build.json compiles (src, migrations) plus views/, which the build copies to dist/views.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY views ./views
RUN npm run build \
 && test -f dist/src/main.js \
 && test -f dist/src/cli/main.js \
 && test -d dist/migrations \
 && test -d dist/views

# ---------------------------------------------------------------------------------------------------
# Runtime stage.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

# Production dependencies only, exactly as locked. --omit=dev also keeps the `node` devDependency (a second
# Node binary) out. argon2's install script only selects its prebuilt binary (package.json allowScripts
# permits it). The npm cache is removed in the same layer so it never lands in the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*

# dist/ holds the server (dist/src/main.js), the CLI (dist/src/cli), compiled migrations and views;
# bin/gatehouse.js is the `gatehouse` CLI and runs dist/ when it is present. package.json stays because
# it declares "type": "module" for dist/ and bin/. Everything is owned by root and not writable by the
# app user: the process cannot modify its own code.
COPY --from=build /app/dist ./dist
COPY bin ./bin
# `gatehouse <command>` on PATH (what `npm install -g` would do, without npm): the Helm chart's migrate
# Job runs `gatehouse migrate`, and operators run `kubectl exec ... -- gatehouse client add ...`.
# Node resolves the link to /app/bin/gatehouse.js, so the CLI finds dist/ beside it.
RUN ln -s /app/bin/gatehouse.js /usr/local/bin/gatehouse

# NODE_ENV=production turns on every refusal in src/config/load.ts (ISSUER, DATABASE_URL, REDIS_URL,
# COOKIE_SECRETS and KEY_ENCRYPTION_KEY must be given; no embedded store, no demo seed).
# DATA_DIR is only used by the embedded development store, which production refuses; it points into
# /tmp so that nothing, even by mistake, writes under /app (Kubernetes mounts /tmp as an emptyDir and
# keeps the root filesystem read-only). HOME=/tmp because uid 10001 has no passwd entry (HOME would be
# "/"), so any tool that wants a home directory writes to /tmp as well.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/tmp/gatehouse \
    HOME=/tmp

# A fixed numeric uid:gid (not a name) so that Kubernetes can verify runAsNonRoot without a runAsUser,
# and so the same ids can be used in securityContext. No account is created: nothing needs one.
USER 10001:10001

EXPOSE 3000

# Liveness only (/healthz does no I/O); readiness (/readyz: database, Redis, migrations) is for the
# orchestrator's traffic decisions, not for restarting the container. Slim images have no curl or wget,
# so the check uses Node's built-in fetch. Kubernetes ignores HEALTHCHECK and uses the chart's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Declared last so that changing them does not invalidate the dependency layer above.
# IMAGE_SOURCE: pass the repository URL from CI (e.g. $GITHUB_SERVER_URL/$GITHUB_REPOSITORY).
ARG IMAGE_VERSION=0.1.0
ARG IMAGE_SOURCE=""
# IMAGE_REVISION: the commit built (e.g. $GITHUB_SHA); IMAGE_CREATED: the build time (RFC 3339).
ARG IMAGE_REVISION=""
ARG IMAGE_CREATED=""
LABEL org.opencontainers.image.title="Gatehouse" \
      org.opencontainers.image.description="Standalone OAuth 2.0 / OpenID Connect identity provider" \
      org.opencontainers.image.version="${IMAGE_VERSION}" \
      org.opencontainers.image.source="${IMAGE_SOURCE}" \
      org.opencontainers.image.revision="${IMAGE_REVISION}" \
      org.opencontainers.image.created="${IMAGE_CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0"

# Exec form, no npm and no shell: node is PID 1 and receives SIGTERM directly, which drains in-flight
# requests and exits (src/main.ts). `npm start` would also run the TypeScript sources, not dist/.
# Migrations are NOT run here (replicas would race on DDL); run `gatehouse migrate` as a separate
# step (the Helm chart does it in a pre-install/pre-upgrade Job).
CMD ["node", "dist/src/main.js"]
