#!/usr/bin/env bash
# Issue 2 benchmark: `moat run` of /bin/true against a bare QEMU boot-to-init-and-poweroff of the
# same kernel and initrd (the floor for any QEMU-based runtime) and `runc run` of the same bundle,
# side by side in one hyperfine run. Writes bench/results/<date>/core.{md,json} and prints the table.
# Usage: bench/core.sh [--quick]   (run as root after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=10
[ "${1:-}" = "--quick" ] && runs=2

for p in hyperfine runc jq; do
  command -v "$p" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
command -v moat >/dev/null || ./scripts/setup.sh

out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
moat image busybox "$work/bundle" true
image=$(readlink -f /var/lib/moat/guest/current)
bare=$(bare_qemu_boot)

{
  echo "# Moat core benchmark — $(date -u +%FT%TZ)"
  echo
  machine_lines
  echo "- Guest kernel: $(jq -r .kernelVersion "$image/manifest.json" 2>/dev/null || basename "$image")"
  echo
} > "$out/core.md"

hyperfine --warmup 1 --runs "$runs" -N --export-json "$out/core.json" --export-markdown "$work/table.md" \
  -n "bare QEMU boot to init + poweroff" "$bare" \
  -n "moat run /bin/true" "moat run --bundle $work/bundle bench-moat" \
  -n "runc run /bin/true" "runc run --bundle $work/bundle bench-runc"
cat "$work/table.md" >> "$out/core.md"
bare_ms=$(jq '.results[0].median*1000' "$out/core.json")
moat_ms=$(jq '.results[1].median*1000' "$out/core.json")
echo >> "$out/core.md"
awk -v b="$bare_ms" -v m="$moat_ms" 'BEGIN { printf "Moat over bare boot (medians): +%.0f ms (%+.0f%%); target: at most +20%%.\n", m-b, (m/b-1)*100 }' >> "$out/core.md"
cat "$out/core.md"
