#!/usr/bin/env bash
# Prepares a machine with no reachable container registry (only Debian's mirror and PyPI) to
# build and run this workspace's images offline, with Podman. FOR LOCAL CHECKS ONLY.
#
#   scripts/prepare_images.sh          (as root; a second run takes seconds)
#
# What it does, each step only when needed:
#   1. installs podman, runc and debootstrap with apt-get;
#   2. writes /etc/containers/containers.conf.d/50-flow-sdk.conf when the machine lacks
#      CAP_SYS_RESOURCE (podman's default ulimits cannot be set there), runs no systemd, or
#      has a cgroup v1/hybrid hierarchy (crun refuses it; runc is used);
#   3. builds STAND-IN base images under the names python/Dockerfile expects:
#      - python:3.11-slim: Debian bookworm minbase (its python3 is 3.11) + ca-certificates,
#        made with debootstrap and cached as a tarball in $FLOW_SDK_IMAGE_CACHE
#        (default /var/cache/flow-sdk-images), plus this machine's extra CA certificates so
#        that builds reach PyPI through its TLS-intercepting egress;
#      - ghcr.io/astral-sh/uv:<the Dockerfile's tag>: the static uv binary of PyPI's uv wheel
#        of the same version, at /uv and /uvx as in the real image.
#
# Stand-in bases are NOT the published bases (other Python build, no Docker Official Image
# hardening, this machine's CA certificates inside). Every image built on them inherits the
# label dev.flow-sdk.stand-in-base=true; build-local.sh warns about it and CI refuses to
# publish an image carrying it. Never push such an image.
#
# Environment: FLOW_SDK_IMAGE_CACHE (cache dir), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), FLOW_SDK_PREPARE_REBUILD=1 (rebuild the stand-ins).
# Exit status: 0 prepared; 3 an environmental step failed (apt, the Debian mirror or PyPI
# unreachable), so the image tests will skip; 1 anything else.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE=${FLOW_SDK_IMAGE_CACHE:-/var/cache/flow-sdk-images}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RECIPE=1 # bump when the stand-in recipe changes, so prepared machines rebuild them
STAND_IN_LABEL=dev.flow-sdk.stand-in-base
PYTHON_IMAGE=docker.io/library/python:3.11-slim
UV_VERSION=$(sed -n 's/^ARG UV_IMAGE=ghcr\.io\/astral-sh\/uv:\(.*\)$/\1/p' python/Dockerfile)
UV_IMAGE=ghcr.io/astral-sh/uv:$UV_VERSION

say() { echo "prepare_images: $*" >&2; }
fail() {
  say "$*"
  exit 1
}
unreachable() {
  say "$*"
  exit 3
}

[[ -n "$UV_VERSION" ]] || fail "cannot read the uv image tag (ARG UV_IMAGE=ghcr.io/astral-sh/uv:TAG) from python/Dockerfile"
[[ $(id -u) -eq 0 ]] || fail "run me as root: apt-get, debootstrap and rootful podman need it"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 1. The engine and the base-image builder.
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if ((${#missing[@]})); then
  say "installing ${missing[*]} with apt-get"
  command -v apt-get >/dev/null 2>&1 || fail "${missing[*]} missing and no apt-get to install them; install them by hand"
  apt-get update -qq >&2 || unreachable "apt-get update failed (is the Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
    || unreachable "apt-get install ${missing[*]} failed (see above)"
fi

# 2. Podman's configuration, where its defaults cannot work.
CONF=/etc/containers/containers.conf.d/50-flow-sdk.conf
cap_eff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
reasons=()
(((16#$cap_eff >> 24) & 1)) || reasons+=("no CAP_SYS_RESOURCE: podman's default ulimits cannot be set")
[[ -d /run/systemd/system ]] || reasons+=("no systemd: no systemd cgroup manager, no journald")
# crun (Debian's default runtime) refuses cgroup v1/v2 hybrid hierarchies; runc runs there.
[[ -f /sys/fs/cgroup/cgroup.controllers ]] || reasons+=("cgroup v1 or hybrid hierarchy: crun refuses it, runc runs")
if ((${#reasons[@]})); then
  {
    echo "# Written by flow-sdk's scripts/prepare_images.sh, because on this machine:"
    printf '#   - %s\n' "${reasons[@]}"
    echo '[containers]'
    echo 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
    echo
    echo '[engine]'
    echo 'cgroup_manager = "cgroupfs"'
    echo 'events_logger = "file"'
    [[ -f /sys/fs/cgroup/cgroup.controllers ]] || echo 'runtime = "runc"'
  } >"$WORK/containers.conf"
  if ! cmp -s "$WORK/containers.conf" "$CONF"; then
    say "writing $CONF ($(IFS=";"; echo "${reasons[*]}"))"
    mkdir -p "$(dirname "$CONF")"
    cp "$WORK/containers.conf" "$CONF"
  fi
fi

# Whether IMAGE exists and was made by this recipe.
prepared() {
  [[ "${FLOW_SDK_PREPARE_REBUILD:-0}" != 1 ]] \
    && [[ $(podman image inspect --format "{{ index .Config.Labels \"$STAND_IN_LABEL.recipe\" }}" "$1" 2>/dev/null) == "$RECIPE" ]]
}

# 3a. python:3.11-slim stand-in.
if prepared "$PYTHON_IMAGE"; then
  say "$PYTHON_IMAGE stand-in is ready"
else
  mkdir -p "$CACHE"
  ROOTFS_TAR=$CACHE/bookworm-minbase-python3.tar
  if [[ ! -s "$ROOTFS_TAR" ]]; then
    say "debootstrapping Debian bookworm (minbase + python3 + ca-certificates) from $MIRROR; about 2 minutes"
    debootstrap --variant=minbase --include=ca-certificates,python3 bookworm "$WORK/rootfs" "$MIRROR" \
      >"$WORK/debootstrap.log" 2>&1 || {
      tail -5 "$WORK/debootstrap.log" >&2
      unreachable "debootstrap of bookworm from $MIRROR failed (log tail above)"
    }
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$WORK/rootfs"
  fi
  say "importing $ROOTFS_TAR"
  podman import --quiet "$ROOTFS_TAR" localhost/flow-sdk-stand-in/bookworm:raw >/dev/null
  mkdir -p "$WORK/python/certs"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$WORK/python/certs/"
  fi
  cat >"$WORK/python/Containerfile" <<EOF
FROM localhost/flow-sdk-stand-in/bookworm:raw
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null 2>&1 && ln -sf /usr/bin/python3 /usr/local/bin/python
# uv reads SSL_CERT_FILE (its default roots do not hold this machine's CAs).
ENV LANG=C.UTF-8 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL $STAND_IN_LABEL=true $STAND_IN_LABEL.recipe=$RECIPE
CMD ["python3"]
EOF
  podman build --quiet --pull=never --tag "$PYTHON_IMAGE" "$WORK/python" >/dev/null \
    || fail "building the $PYTHON_IMAGE stand-in failed (see above)"
  podman rmi --force localhost/flow-sdk-stand-in/bookworm:raw >/dev/null 2>&1 || true
  say "built the $PYTHON_IMAGE stand-in ($(podman run --rm "$PYTHON_IMAGE" python3 --version))"
fi

# 3b. ghcr.io/astral-sh/uv:<tag> stand-in: /uv and /uvx on an empty filesystem.
if prepared "$UV_IMAGE"; then
  say "$UV_IMAGE stand-in is ready"
else
  UV_TAR=$CACHE/uv-$UV_VERSION.tar
  if [[ ! -s "$UV_TAR" ]]; then
    say "downloading PyPI's uv $UV_VERSION wheel"
    mkdir -p "$CACHE" "$WORK/uv/root"
    PY=$(command -v python3) || fail "python3 is needed to download the uv wheel"
    "$PY" -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_17_x86_64 \
      --dest "$WORK/uv" "uv==$UV_VERSION" >&2 || unreachable "pip download uv==$UV_VERSION failed (is PyPI reachable?)"
    (cd "$WORK/uv" && "$PY" -m zipfile -e uv-"$UV_VERSION"-*.whl unpacked)
    for tool in uv uvx; do
      install -m 0755 "$WORK/uv/unpacked/uv-$UV_VERSION.data/scripts/$tool" "$WORK/uv/root/$tool"
    done
    tar -C "$WORK/uv/root" -cf "$UV_TAR.part" . && mv "$UV_TAR.part" "$UV_TAR"
  fi
  podman import --quiet --change 'ENTRYPOINT ["/uv"]' \
    --change "LABEL $STAND_IN_LABEL=true" --change "LABEL $STAND_IN_LABEL.recipe=$RECIPE" \
    "$UV_TAR" "$UV_IMAGE" >/dev/null || fail "importing the $UV_IMAGE stand-in failed"
  say "built the $UV_IMAGE stand-in"
fi
say "ready: build with CONTAINER_ENGINE=podman ./build-local.sh CONNECTOR (local checks only; never push)"
