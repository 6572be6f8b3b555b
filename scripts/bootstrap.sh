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
"${UV[@]}" sync --frozen --quiet >&2
export PATH="$PWD/.venv/bin:$PATH"
