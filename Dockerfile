# syntax=docker/dockerfile:1
#
# The Conduit API image (ADR 0016).
#
#   docker build -t conduit .
#   docker run --rm -p 8080:8080 conduit                  # SQLite in the container, for a try
#   docker run --rm -e DATABASE_URL=postgres://... conduit migrate up
#
# Four stages: `chef` (the toolchain plus cargo-chef), `planner` (reduces the workspace
# to a recipe of its dependencies), `builder` (compiles the dependencies from the recipe
# in a layer of their own, then the workspace) and `runtime` (Debian slim, the binary,
# CA certificates and curl for the health check). Only a change to Cargo.toml or
# Cargo.lock rebuilds the dependency layer; a source change rebuilds the workspace crates.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
 && rm -rf "${CARGO_HOME}/registry"
WORKDIR /src

# ---------------------------------------------------------------------------------------
FROM chef AS planner
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The dependencies of conduit-server only, with the release profile of the workspace
# (recipe.json carries Cargo.toml, Cargo.lock and the profiles): cached until they change.
RUN cargo chef cook --release --locked -p conduit-server --recipe-path recipe.json
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
RUN cargo build --release --locked -p conduit-server \
 && install -D -m 0755 target/release/conduit /out/conduit

# ---------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: outbound HTTPS to OAuth / OpenID Connect providers (rustls reads the
# system store). curl: the HEALTHCHECK below (`conduit` has no health subcommand).
# Versions are not pinned: bookworm's point releases and security updates replace them,
# and a pinned version disappears from the mirrors; rebuild to pick up fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot and volume ownership can rely on it.
RUN groupadd --system --gid 10001 conduit \
 && useradd --system --uid 10001 --gid conduit --home-dir /var/lib/conduit \
      --no-create-home --shell /usr/sbin/nologin conduit \
 && install -d -o conduit -g conduit -m 0750 /var/lib/conduit
COPY --from=builder /out/conduit /usr/local/bin/conduit
# The working directory is the one place the process may write: with no DATABASE_URL
# the default SQLite file (conduit.db) goes here. With PostgreSQL nothing is written, and
# the container can run with a read-only root filesystem (compose/compose.prod.yaml).
WORKDIR /var/lib/conduit
USER 10001:10001
# Listen on every interface of the container (the application's default is 127.0.0.1).
ENV HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080
# Liveness of the process: /health/live answers `ok` while it runs. The port follows the
# same variables the server reads. Readiness (/health/ready, dependencies) is for load
# balancers and orchestrators, not for restarting the container.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${CONDUIT_SERVER__PORT:-${PORT:-8080}}/health/live\" || exit 1"]
# SIGTERM (what `docker stop` sends) starts the graceful shutdown: in-flight requests get
# up to 10 s. Give the container longer than that before SIGKILL: the Compose files set
# stop_grace_period (20-30 s); with plain `docker stop`, whose default is 10 s, pass -t 20.
STOPSIGNAL SIGTERM
ENTRYPOINT ["conduit"]
CMD ["serve"]
