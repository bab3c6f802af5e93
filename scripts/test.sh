#!/usr/bin/env bash
# Sets up Moat (see setup.sh) and runs the whole test suite: unit tests and the integration tests
# that boot real VMs through the installed `moat`. Ends with a "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# What only the tests need: the real components they drive (a private containerd with its CRI plugin,
# runc as the baseline, the CNI plugins for pod networks, dockerd for docker run --runtime=moat,
# podman with conmon for podman run --runtime moat, Prometheus to scrape moat monitor, Node.js and
# npm to check deploy/'s manifests against the Kubernetes schemas).
test_packages=(containerd runc crun containernetworking-plugins docker.io podman conmon python3 prometheus)
missing=()
for p in "${test_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Any Node.js with npm will do (a nodesource nodejs bundles npm; Debian splits it).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing test packages: ${missing[*]}" >&2
  apt-get update -qq
  # docker.io's maintainer scripts would start a system dockerd: the tests start their own.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
fi

results=$(mktemp -d /tmp/moat-test-results.XXXXXX)
set +e
dotnet test Moat.slnx -c Release -nologo --logger "trx" --results-directory "$results" "$@"
rc=$?
set -e
passed=0; failed=0; skipped=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  c=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$c"); passed=$((passed + ${p:-0}))
  q=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$c"); failed=$((failed + ${q:-0}))
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$c"); skipped=$((skipped + ${n:-0}))
done
if [ "$failed" -ne 0 ] && [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 scripts/trx-summary.py "$results"/*.trx || true
fi
rm -rf "$results"
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
