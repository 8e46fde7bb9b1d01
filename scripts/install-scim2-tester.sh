#!/usr/bin/env bash
# Installs scim2-tester (the independent SCIM checker of test/scim-conformance.test.ts) into
# .scim2-venv when it is not there yet. PyPI is out of reach: its wheels are in
# ../shared/vendor/scim2-wheels (or SCIM2_WHEELS, or beside the repository this was cloned
# from), and pydantic/httpx come from the machine's
# local Python index (pip's own configuration, e.g. /etc/pip.conf's extra-index-url).
# Run by .ci/run and, when the virtualenv is missing, by the test itself. Exits 0 when it is
# usable afterwards, 1 (with the reason on stderr) when not: the test then skips.
set -uo pipefail
cd "$(dirname "$0")/.."
# A fresh clone elsewhere (CI clones into a temporary directory) has no ../shared beside it:
# then the wheels are looked for beside the repository it was cloned from, when that is local.
if [ -z "${SCIM2_WHEELS:-}" ]; then
  SCIM2_WHEELS=../shared/vendor/scim2-wheels
  origin="$(git config --get remote.origin.url 2>/dev/null || true)"
  if [ ! -d "$SCIM2_WHEELS" ] && [ -n "$origin" ] && [ -d "$origin/../shared/vendor/scim2-wheels" ]; then
    SCIM2_WHEELS="$origin/../shared/vendor/scim2-wheels"
  fi
fi
usable() { .scim2-venv/bin/python -c 'import scim2_tester, scim2_client, httpx' 2>/dev/null; }
usable && exit 0
if [ ! -d "$SCIM2_WHEELS" ] || ! command -v python3 >/dev/null 2>&1; then
  echo "scim2-tester wheels ($SCIM2_WHEELS) or python3 missing" >&2
  exit 1
fi
python3 -m venv .scim2-venv \
  && .scim2-venv/bin/pip install --quiet --retries 0 --timeout 20 --find-links "$SCIM2_WHEELS" \
       'scim2-tester[httpx]==0.2.8' scim2-client==0.7.5 scim2-models==0.6.12 \
  && usable && exit 0
echo "scim2-tester could not be installed into .scim2-venv" >&2
exit 1
