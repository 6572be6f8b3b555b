# Sourced by the README's commands: make sure uv exists (installed with pip when absent)
# and the workspace environment matches uv.lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif "$PY" -m uv --version >/dev/null 2>&1; then
  UV=("$PY" -m uv)
else
  echo "bootstrap: installing uv with pip" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check uv >&2
  UV=("$PY" -m uv)
fi
"${UV[@]}" sync --frozen --quiet >&2  # compiles site-packages' bytecode (pyproject [tool.uv])
# The workspace's own packages are editable installs, which uv does not compile: do it here,
# so machines that set PYTHONDONTWRITEBYTECODE do not recompile them at every start.
.venv/bin/python -m compileall -q -j 0 python/flow_sdk source-bigdata/source_bigdata \
  destination-kvdb/destination_kvdb >&2
export PATH="$PWD/.venv/bin:$PATH"
