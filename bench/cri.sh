#!/usr/bin/env bash
# Issue 4 benchmark, runc and Moat side by side in one run on a private containerd with its CRI
# plugin (configured by `moat install containerd`) and a bridge CNI network:
#  - CRI pod start: RunPodSandbox -> CreateContainer -> StartContainer (container running);
#  - idle memory per pod: PSS of every host process the pod added (shim + QEMU for Moat).
# Writes bench/results/<date>/cri.{md,json}. Usage: bench/cri.sh [--quick]  (root, after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
[ "${1:-}" = "--quick" ] && runs=2
for p in jq containerd runc containernetworking-plugins; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
command -v containerd-shim-moat-v2 >/dev/null || ./scripts/setup.sh

out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-bench-cri.XXXXXX)
mkdir -p "$work/cni"
cat > "$work/cni/10-bench.conflist" <<JSON
{ "cniVersion": "0.4.0", "name": "moat-bench", "plugins": [ { "type": "bridge", "bridge": "moatbench0", "isGateway": true,
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.88.78.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$work/ipam" } } ] }
JSON
cat > "$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$work/c.sock"
[ttrpc]
  address = "$work/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "moat.local/pause:3.6"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
TOML
echo "" > "$work/moat.toml"
moat --config "$work/moat.toml" install containerd --config-file "$work/config.toml" >/dev/null
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
ctd=$!
cleanup() {
  kill "$ctd" 2>/dev/null || true
  wait "$ctd" 2>/dev/null || true
  { grep "$work" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  ip link del moatbench0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
until ctr -a "$work/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
C="ctr -a $work/c.sock -n k8s.io"
moat image archive "$work/bb.tar" >/dev/null && $C images import "$work/bb.tar" >/dev/null
moat image archive "$work/pause.tar" --name moat.local/pause:3.6 --cmd sleep infinity >/dev/null && $C images import "$work/pause.tar" >/dev/null
sleep 2 # the CRI plugin loads the CNI configuration

dotnet run --project bench/CriBench -c Release -- "$work/c.sock" "$runs" "$out/cri.json"

core=$(ls bench/results/*/core.json 2>/dev/null | tail -1)
qemu_boot=$([ -n "$core" ] && jq -r '.results[] | select(.command | test("bare")) | .mean' "$core" | head -1 || echo "")
mean() { jq -r "[.$1.$2[]] | add / length" "$out/cri.json"; }
{
  echo "# Moat CRI benchmark — $(date -u +%FT%TZ)"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; $([ -w /dev/kvm ] && echo KVM || echo 'TCG (no /dev/kvm)')"
  echo "- containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), $runs pods per runtime"
  echo
  echo "| runtime | pod start, mean (ms) | idle pod PSS, mean (MiB) |"
  echo "|---|---|---|"
  for h in runc moat; do
    printf '| %s | %.0f | %.1f |\n' "$h" "$(mean "$h" start_ms)" "$(mean "$h" idle_pss_mib)"
  done
  if [ -n "$qemu_boot" ]; then
    echo
    printf 'Bare QEMU boot from core.json: %.0f ms; target pod start <= +30%%: %.0f ms.\n' "$(echo "$qemu_boot * 1000" | bc -l)" "$(echo "$qemu_boot * 1300" | bc -l)"
  fi
} > "$out/cri.md"
cat "$out/cri.md"
