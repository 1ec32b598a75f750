#!/usr/bin/env bash
# The report tests open report.html in Debian's chromium (driven by Playwright, whose own
# browser download is never used): install the Debian package when it is missing.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
echo "make: installing chromium (Debian package) for the report tests"
if [ "$(id -u)" -ne 0 ]; then
    echo "make: chromium is missing and this is not root: run 'sudo apt-get install -y chromium'" >&2
    exit 2
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
