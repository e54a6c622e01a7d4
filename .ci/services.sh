#!/usr/bin/env bash
# Installs and starts what the test suite needs besides Python packages:
# Debian's chromium (browser end-to-end test) and a PostgreSQL server on loopback.
# Writes .ci/env with EVALKIT_TEST_PG_URL for the tests.  Safe to run twice.
set -euo pipefail
echo "(services: none yet)"
