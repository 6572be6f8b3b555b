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
linux/amd64, what Flow runs).

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

command -v docker >/dev/null 2>&1 \
  || fail "the docker command is not installed; install Docker (or a compatible engine) to build images"
if ! ENGINE_ERROR=$(docker info 2>&1 >/dev/null); then
  fail "no Docker engine answers ('docker info' failed: ${ENGINE_ERROR//$'\n'/ }); start Docker or point DOCKER_HOST at a running engine"
fi

IMAGE=ghcr.io/estuary/$CONNECTOR:local
echo "build-local.sh: building $IMAGE ($TYPE) with $DOCKERFILE" >&2
DOCKER_BUILDKIT=1 docker build \
  --platform "${PLATFORM:-linux/amd64}" \
  --file "$DOCKERFILE" \
  --build-arg "CONNECTOR_NAME=$CONNECTOR" \
  --build-arg "CONNECTOR_TYPE=$TYPE" \
  --build-arg "DOCS_URL=${DOCS_URL:-https://go.estuary.dev/$CONNECTOR}" \
  --tag "$IMAGE" \
  . || fail "docker build of $IMAGE failed (see the build output above)"
echo "build-local.sh: built $IMAGE" >&2
