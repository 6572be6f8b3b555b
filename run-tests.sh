#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only Python 3.11 and pip.
source "$(dirname "$0")/scripts/bootstrap.sh"
ruff check .
exec pytest -n 2 --reruns 1 --reruns-delay 2 "$@"
