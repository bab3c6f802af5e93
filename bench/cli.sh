#!/usr/bin/env bash
# Issue 5 benchmark: the OCI CLI path. `moat run` (foreground, VM in the moat process), `moat run
# --pid-file` (create + start through the shim daemon, as Docker and containerd's runc shim drive
# it), `runc run` and `crun run` of one bundle, the bare QEMU boot floor, and `docker run --rm`
# with runc, crun and moat on a private dockerd, side by side in one run.
# Writes bench/results/<date>/cli.{md,json}. Usage: bench/cli.sh [--quick]   (root, after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=10
[ "${1:-}" = "--quick" ] && runs=2

need_packages hyperfine runc crun jq docker.io
command -v moat >/dev/null || ./scripts/setup.sh

out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-bench-cli.XXXXXX)
docker="/usr/bin/docker --host unix://$work/docker.sock"
cleanup() {
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null && sleep 3
  umount_under "$work"
  hugetlb_return
  rm -rf "$work"
}
trap cleanup EXIT
hugetlb_lend

moat image busybox "$work/bundle" true >/dev/null
moat image archive "$work/busybox.tar" >/dev/null
echo '{"runtimes": {"crun": {"path": "/usr/bin/crun"}}}' > "$work/daemon.json"
moat install docker --config-file "$work/daemon.json" >/dev/null
/usr/sbin/dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" --host "unix://$work/docker.sock" \
  --config-file "$work/daemon.json" --iptables=false --ip-masq=false --bridge=none >"$work/dockerd.log" 2>&1 &
for _ in $(seq 1 120); do $docker version >/dev/null 2>&1 && break; sleep 0.5; done
$docker load -i "$work/busybox.tar" >/dev/null

bare=$(bare_qemu_boot)

{
  echo "# Moat OCI CLI and Docker benchmark — $(date -u +%FT%TZ)"
  echo
  machine_lines
  echo "- runc $(runc --version | head -1 | awk '{print $3}'), crun $(crun --version | head -1 | awk '{print $3}'), dockerd $(/usr/sbin/dockerd --version | awk '{print $3}' | tr -d ,)"
  echo
} > "$out/cli.md"

# crun is measured only where it runs at all (it rejects some hybrid cgroup layouts).
crun_cmds=()
if crun --root "$work/crun" run --bundle "$work/bundle" probe >/dev/null 2>"$work/crun.err" \
   && $docker run --rm --network none --runtime=crun busybox true >/dev/null 2>>"$work/crun.err"; then
  crun_cmds=(-n "crun run" "crun --root $work/crun run --bundle $work/bundle b-crun" \
             -n "docker run --rm (crun)" "$docker run --rm --network none --runtime=crun busybox true")
else
  echo "- crun skipped: $(head -c 200 "$work/crun.err" | tr '\n' ' ')" >> "$out/cli.md"; echo >> "$out/cli.md"
fi
hyperfine --warmup 1 --runs "$runs" -N --export-json "$out/cli.json" --export-markdown "$work/table.md" \
  -n "bare QEMU boot to init + poweroff" "$bare" \
  -n "moat run (foreground)" "moat --root $work/moat run --bundle $work/bundle b-moat" \
  -n "moat run --pid-file (shim daemon)" "moat --root $work/moat run --pid-file $work/pid --bundle $work/bundle b-moat-d" \
  -n "docker run --rm (moat)" "$docker run --rm --network none --runtime=moat busybox true" \
  -n "runc run" "runc --root $work/runc run --bundle $work/bundle b-runc" \
  -n "docker run --rm (runc)" "$docker run --rm --network none busybox true" \
  "${crun_cmds[@]}"
cat "$work/table.md" >> "$out/cli.md"
median() { jq ".results[$1].median*1000" "$out/cli.json"; }
{
  echo
  awk -v b="$(median 0)" -v m="$(median 2)" 'BEGIN { printf "moat CLI (shim daemon path) over bare boot (medians): +%.0f ms (%+.0f%%); target: at most +20%%.\n", m-b, (m/b-1)*100 }'
  awk -v b="$(median 0)" -v m="$(median 3)" 'BEGIN { printf "docker run --runtime=moat over bare boot (medians): +%.0f ms (%+.0f%%).\n", m-b, (m/b-1)*100 }'
} >> "$out/cli.md"
cat "$out/cli.md"
