#!/usr/bin/env bash
# The seed docs spell it ./python/pull_upstream.sh; the script lives at the workspace root.
exec "$(dirname "${BASH_SOURCE[0]}")/../pull_upstream.sh" "$@"
