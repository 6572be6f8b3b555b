#!/usr/bin/env bash
# Builds ghcr.io/estuary/<connector>:local from the workspace, for flowctl (which runs
# `:local` images without pulling them) and for checking an image before CI publishes it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ./build-local.sh CONNECTOR [DOCKERFILE]

Builds the image ghcr.io/estuary/CONNECTOR:local from the workspace root.

  CONNECTOR   a connector directory at the workspace root: source-* (a capture),
              destination-* or materialize-* (a materialization)
  DOCKERFILE  the Dockerfile to build with; default: CONNECTOR/Dockerfile when the
              connector has its own, else python/Dockerfile (the shared template)

Environment: DOCS_URL (default https://go.estuary.dev/CONNECTOR), PLATFORM (default
linux/amd64, what Flow runs), CONTAINER_ENGINE (docker or podman; default: Docker when
its engine answers and has buildx, else Podman).

Example: ./build-local.sh source-bigdata
EOF
}

fail() {
  echo "build-local.sh: $*" >&2
  exit 1
}

if [[ $# -eq 0 ]]; then
  usage >&2
  exit 2
fi
if [[ "$1" == -h || "$1" == --help ]]; then
  usage
  exit 0
fi
if [[ $# -gt 2 ]]; then
  echo "build-local.sh: expected CONNECTOR [DOCKERFILE], got $# arguments" >&2
  usage >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")"
CONNECTOR=${1%/}
case "$CONNECTOR" in
  source-*) TYPE=capture ;;
  destination-* | materialize-*) TYPE=materialize ;;
  *) fail "cannot tell the type of '$CONNECTOR': a connector's name starts with source- (capture), destination- or materialize- (materialization)" ;;
esac
[[ -d "$CONNECTOR" ]] || fail "there is no connector directory '$CONNECTOR' at the workspace root ($PWD)"

if [[ $# -eq 2 ]]; then
  DOCKERFILE=$2
elif [[ -f "$CONNECTOR/Dockerfile" ]]; then
  DOCKERFILE=$CONNECTOR/Dockerfile
else
  DOCKERFILE=python/Dockerfile
fi
[[ -f "$DOCKERFILE" ]] || fail "Dockerfile '$DOCKERFILE' does not exist (paths are relative to $PWD)"

# The engine: CONTAINER_ENGINE if set, else Docker when its engine answers and it has
# BuildKit (buildx), else Podman (buildah ignores the Dockerfile's `# syntax=` line and
# supports its RUN --mount flags).
docker_answers() {
  command -v docker >/dev/null 2>&1 || {
    ENGINE_ERROR="the docker command is not installed"
    return 1
  }
  local out
  if ! out=$(docker info 2>&1 >/dev/null); then
    ENGINE_ERROR="no Docker engine answers ('docker info' failed: ${out//$'\n'/ })"
    return 1
  fi
}
ENGINE=${CONTAINER_ENGINE:-}
case "$ENGINE" in
  docker)
    docker_answers || fail "$ENGINE_ERROR; start Docker or point DOCKER_HOST at a running engine (or set CONTAINER_ENGINE=podman)"
    ;;
  podman)
    command -v podman >/dev/null 2>&1 || fail "CONTAINER_ENGINE=podman, but the podman command is not installed (scripts/prepare_images.sh installs it)"
    ;;
  "")
    if docker_answers && docker buildx version >/dev/null 2>&1; then
      ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then
      ENGINE=podman
    elif [[ -n "${ENGINE_ERROR:-}" ]]; then
      fail "$ENGINE_ERROR, and podman is not installed; start Docker or point DOCKER_HOST at a running engine, or install Podman"
    else
      fail "Docker answers but has no buildx (BuildKit), which RUN --mount needs, and podman is not installed; install docker-buildx or Podman"
    fi
    ;;
  *) fail "CONTAINER_ENGINE must be docker or podman, not '$ENGINE'" ;;
esac

IMAGE=ghcr.io/estuary/$CONNECTOR:local
echo "build-local.sh: building $IMAGE ($TYPE) with $DOCKERFILE ($ENGINE)" >&2
ARGS=(
  --platform "${PLATFORM:-linux/amd64}"
  --file "$DOCKERFILE"
  --build-arg "CONNECTOR_NAME=$CONNECTOR"
  --build-arg "CONNECTOR_TYPE=$TYPE"
  --build-arg "DOCS_URL=${DOCS_URL:-https://go.estuary.dev/$CONNECTOR}"
  --tag "$IMAGE"
  .
)
if [[ "$ENGINE" == docker ]]; then
  DOCKER_BUILDKIT=1 docker build "${ARGS[@]}" || fail "docker build of $IMAGE failed (see the build output above)"
else
  podman build "${ARGS[@]}" || fail "podman build of $IMAGE failed (see the build output above)"
fi
echo "build-local.sh: built $IMAGE" >&2
# Images on scripts/prepare_images.sh's stand-in bases inherit this label from them.
if [[ $("$ENGINE" image inspect --format '{{ index .Config.Labels "dev.flow-sdk.stand-in-base" }}' "$IMAGE" 2>/dev/null) == true ]]; then
  echo "build-local.sh: warning: $IMAGE is built on stand-in base images (scripts/prepare_images.sh): for local checks only, never push it" >&2
fi
