#!/usr/bin/env bash
# Installs one workspace connector into a fresh virtualenv, exactly as its image does.
# python/Dockerfile runs it in the builder stage and scripts/image_smoke.py runs the same
# line without Docker, so the two cannot drift.
#
#   scripts/install_connector.sh VENV CONNECTOR     (from the workspace root)
#
# Versions and hashes come from the workspace lock (uv.lock): the lock is exported as a
# constraints file, so only the connector's own main dependencies are installed, each at
# its locked version and checked against its locked hash. flow-sdk and the connector are
# installed from their directories, not editable, so the virtualenv holds the sources and
# is all the final image needs. Last, a launcher `VENV/bin/flow-connector` runs the
# connector's Flow module (`source-foo` -> `python -m source_foo`).
set -euo pipefail

fail() {
  echo "install_connector: $*" >&2
  exit 1
}

if [[ $# -ne 2 || "$1" == -h || "$1" == --help ]]; then
  echo "usage: scripts/install_connector.sh VENV CONNECTOR   (run from the workspace root)" >&2
  exit 2
fi
VENV=$1
CONNECTOR=${2%/}
MODULE=${CONNECTOR//-/_}

[[ -f uv.lock && -f pyproject.toml ]] \
  || fail "run me from the workspace root (no uv.lock and pyproject.toml in $PWD)"
[[ -f "$CONNECTOR/pyproject.toml" ]] \
  || fail "connector '$CONNECTOR' has no $CONNECTOR/pyproject.toml; is the name right?"
command -v uv >/dev/null || fail "uv is not on PATH; install it (pip install uv)"
grep -qx "name = \"$CONNECTOR\"" uv.lock \
  || fail "'$CONNECTOR' is not in uv.lock: add it to the root pyproject.toml as a path dependency, then run 'uv lock'"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Every third-party package of the workspace at its locked version, with its hashes.
uv export --quiet --frozen --no-dev --no-emit-local --format requirements-txt \
  --output-file "$WORK/locked.txt"

uv venv --quiet --python "${PYTHON:-python3}" "$VENV"
PY="$VENV/bin/python"

# A wrapped package given to `flow-sdk new` as a local path is copied into the connector
# (CONNECTOR/vendor/NAME); it is installed from there, like the two local packages.
VENDORED=()
VENDORED_NAMES=""
for dir in "$CONNECTOR"/vendor/*/; do
  [[ -f "$dir/pyproject.toml" ]] || continue
  VENDORED+=("./${dir%/}")
  VENDORED_NAMES+="|$(basename "$dir")"
done

# --no-sources: a connector's [tool.uv.sources] points at ../python as an editable
# checkout, which would leave the image importing files it does not contain.
uv pip install --quiet --python "$PY" --no-sources --constraints "$WORK/locked.txt" \
  ./python "./$CONNECTOR" ${VENDORED[@]+"${VENDORED[@]}"}
uv pip check --quiet --python "$PY" || fail "the installed packages of '$CONNECTOR' conflict (see above)"

# Everything installed besides the two local packages must be pinned (and so hash-checked)
# by the lock; anything else means the lock is stale for this connector.
uv pip freeze --quiet --python "$PY" --exclude-editable \
  | grep -v -E '^(flow-sdk|'"$CONNECTOR$VENDORED_NAMES"') @ ' \
  | LC_ALL=C sort >"$WORK/installed.txt"
grep -E '^[A-Za-z0-9._-]+==' "$WORK/locked.txt" | sed 's/ .*//; s/;.*//' \
  | LC_ALL=C sort -u >"$WORK/pinned.txt"
UNPINNED=$(LC_ALL=C comm -23 "$WORK/installed.txt" "$WORK/pinned.txt")
[[ -z "$UNPINNED" ]] \
  || fail "installed packages that uv.lock does not pin: ${UNPINNED//$'\n'/ }; run 'uv lock' and commit uv.lock"

"$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$MODULE.__main__') is None)" \
  || fail "connector '$CONNECTOR' has no Flow entry module: add $CONNECTOR/$MODULE/__main__.py"

# Slimmer images: CONNECTOR/image-exclude.txt names locked distributions the connector
# never imports (airbyte-cdk requires pandas, numpy, ... for features it does not use);
# they are removed, and the entry module must still import without them.
if [[ -f "$CONNECTOR/image-exclude.txt" ]]; then
  mapfile -t EXCLUDED < <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$CONNECTOR/image-exclude.txt")
  if ((${#EXCLUDED[@]})); then
    uv pip uninstall --quiet --python "$PY" "${EXCLUDED[@]}" \
      || fail "cannot remove the distributions of $CONNECTOR/image-exclude.txt (see above)"
    "$PY" -c "import $MODULE.__main__" \
      || fail "connector '$CONNECTOR' does not import without the distributions of $CONNECTOR/image-exclude.txt (see above); remove the one it needs from that file"
  fi
fi

cat >"$VENV/bin/flow-connector" <<LAUNCHER
#!/bin/sh
# Runs the $CONNECTOR connector's Flow module with this virtualenv's interpreter.
case "\$0" in */*) here=\${0%/*} ;; *) here=. ;; esac
exec "\$here/python" -m $MODULE "\$@"
LAUNCHER
chmod 0755 "$VENV/bin/flow-connector"
echo "install_connector: installed $CONNECTOR into $VENV (entry point: python -m $MODULE)" >&2
