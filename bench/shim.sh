#!/usr/bin/env bash
# Issue 3 benchmark, side by side in one run on a private containerd:
#  - `ctr run --rm busybox /bin/true` with Moat's shim and with runc's shim (and the bare QEMU floor);
#  - idle RSS of each shim daemon with one sleeping container;
#  - shim `start` until it prints its listening address.
# Writes bench/results/<date>/shim.{md,json}. Usage: bench/shim.sh [--quick]  (root, after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
[ "${1:-}" = "--quick" ] && runs=2
for p in hyperfine jq containerd runc; do
  command -v "$p" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
command -v containerd-shim-moat-v2 >/dev/null || ./scripts/setup.sh

out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-bench-shim.XXXXXX)
cat > "$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/c.sock"
[ttrpc]
  address = "$work/c.sock.ttrpc"
TOML
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
ctd=$!
cleanup() {
  ctr -a "$work/c.sock" -n bench task kill -s KILL idle-moat >/dev/null 2>&1 || true
  ctr -a "$work/c.sock" -n bench task kill -s KILL idle-runc >/dev/null 2>&1 || true
  sleep 1
  for c in idle-moat idle-runc; do
    ctr -a "$work/c.sock" -n bench task delete "$c" >/dev/null 2>&1 || true
    ctr -a "$work/c.sock" -n bench container rm "$c" >/dev/null 2>&1 || true
  done
  kill "$ctd" 2>/dev/null || true
  wait "$ctd" 2>/dev/null || true
  { grep "$work" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$work"
}
trap cleanup EXIT
until ctr -a "$work/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
C="ctr -a $work/c.sock -n bench"
moat image archive "$work/bb.tar" >/dev/null
$C images import "$work/bb.tar" >/dev/null
img=docker.io/library/busybox:latest

{
  echo "# Moat shim benchmark — $(date -u +%FT%TZ)"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; $([ -w /dev/kvm ] && echo KVM || echo 'TCG (no /dev/kvm)')"
  echo "- containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), host kernel $(uname -r)"
  echo
  echo "## ctr run --rm busybox /bin/true"
  echo
} > "$out/shim.md"

hyperfine --warmup 1 --runs "$runs" -N --export-json "$out/shim.json" --export-markdown "$work/t1.md" \
  -n "ctr run, moat shim" "$C run --rm --runtime io.containerd.moat.v2 $img bench-moat /bin/true" \
  -n "ctr run, runc shim" "$C run --rm --runtime io.containerd.runc.v2 $img bench-runc /bin/true"
cat "$work/t1.md" >> "$out/shim.md"

# Idle RSS of each shim daemon with one sleeping container.
$C run -d --runtime io.containerd.moat.v2 $img idle-moat sleep 600 >/dev/null
$C run -d --runtime io.containerd.runc.v2 $img idle-runc sleep 600 >/dev/null
sleep 5
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
moat_pid=$(pgrep -f 'containerd-shim-moat-v2 .*-id idle-moat' | head -1)
runc_pid=$(pgrep -f 'containerd-shim-runc-v2 .*-id idle-runc' | head -1)
qemu_pid=$(pgrep -f 'qemu-system.*moat-idle-moat' | head -1)
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
{
  echo
  echo "## Idle shim daemon (one sleeping container)"
  echo
  echo "| process | RSS (KiB) | PSS (KiB) |"
  echo "|---|---:|---:|"
  echo "| containerd-shim-moat-v2 | $(rss "$moat_pid") | $(pss "$moat_pid") |"
  echo "| containerd-shim-runc-v2 | $(rss "$runc_pid") | $(pss "$runc_pid") |"
  echo "| qemu-system-x86_64 (Moat's VM) | $(rss "$qemu_pid") | $(pss "$qemu_pid") |"
  echo
  echo "Target: shim daemon ≤ 15 MiB RSS."
} >> "$out/shim.md"

# shim start until it prints its address (the daemon is stopped after each run).
mkdir -p "$work/bundle"
moat spec --bundle "$work/bundle" >/dev/null
cd "$work/bundle"
hyperfine --warmup 1 --runs "$runs" -N --export-markdown "$work/t2.md" \
  --cleanup "pkill -f 'bench-star[t].*__serve'" \
  -n "containerd-shim-moat-v2 start" \
  "containerd-shim-moat-v2 -namespace bench-start -id s1 -address $work/c.sock -publish-binary /usr/bin/containerd start"
cd - >/dev/null
{ echo; echo "## shim start → listening address printed"; echo; cat "$work/t2.md"; echo; echo "Target: ≤ 30 ms."; } >> "$out/shim.md"
cat "$out/shim.md"
