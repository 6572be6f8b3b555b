#!/usr/bin/env bash
# The demo, from a fresh machine with only Python 3.11 and pip.
source "$(dirname "$0")/scripts/bootstrap.sh"
echo '{"spec":{"connectorType":"LOCAL","config":{}}}' | python python/tests/connectors/counter_capture.py
