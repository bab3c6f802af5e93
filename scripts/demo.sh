#!/usr/bin/env bash
# Moat's main job on a fresh Debian 12 machine: set up, then run the built-in busybox container
# in its own VM and show the guest's kernel next to the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
bundle=$(mktemp -d /tmp/moat-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
moat image busybox "$bundle" uname -a
echo "host : $(uname -a)"
echo "guest: $(moat run --bundle "$bundle" "demo-$$")"
