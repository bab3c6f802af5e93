#!/usr/bin/env bash
# Moat's benchmark suite: Moat against runc, crun, runsc (gVisor) and a bare QEMU boot of Moat's own
# guest kernel and initrd, side by side in one run, on a private containerd (CRI plugin, bridge CNI).
#   start latency: bare QEMU boot; `ctr run --rm /bin/true` and CLI `run` of a bundle per runtime
#                  (Moat restores VMs from a template; the CLI row "template off" boots each);
#                  a memory-limited container; CRI pod start, call by call, and whose CPU it takes
#                  (`perf record -a`); shim start; where Moat's start goes (`moat --debug run`) and who
#                  spends its CPU (`perf record` of `moat run`)
#   memory:        host PSS per idle pod with 1 and with MEMORY_AT idle pods; shim RSS; QEMU's PSS and
#                  the shim's RSS by mapping
#   density:       idle pods up to 250, stopping before MemAvailable < 25% or at a failed start
#   workload:      stdout throughput, rootfs sequential write/read and small files, pod<->host
#                  network, a CPU loop; each as a ratio to runc; and who spends Moat's CPU on each
#                  (`perf record` of each workload alone in a `moat run`)
# Writes bench/results/<date>/{report.md,*.png,samples.csv,summary.csv,results.json}.
# Usage: bench/run.sh [--quick]   (root; --quick runs each measurement once with small sizes)
#        BENCH_STEPS="4 6" bench/run.sh   runs only those steps (3-8), into bench/results/<date>-steps-4-6
#        BENCH_RUNS=5 BENCH_PODS=100 bench/run.sh   fewer repetitions, a lower density ceiling
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

runs=${BENCH_RUNS:-10} pods=${BENCH_PODS:-250} memory_at=20 stdout_mib=1024 rootfs_mib=256 share_mib=128 net_mib=32 files=1000 loop=3000000
profile_runs=3 # each I/O workload under perf (step 8): a minute per run for 1 GiB to stdout under TCG
mode="Full run: every start and workload figure repeated $runs times; density up to $pods pods."
[ -n "${BENCH_STEPS:-}" ] && mode="Partial run (steps $BENCH_STEPS only): each figure repeated $runs times; density up to $pods pods."
if [ "${1:-}" = "--quick" ]; then
  runs=1 pods=3 memory_at=2 stdout_mib=64 rootfs_mib=32 share_mib=16 net_mib=8 files=200 loop=300000 profile_runs=1
  mode="Quick run (a smoke check): each measurement once, small sizes, density up to $pods pods. Indicative only."
fi
step() { echo; echo "==> [$1/9] $2"; }
steps="${BENCH_STEPS:-3 4 5 6 7 8}"
want() { [[ " $steps " == *" $1 "* ]]; }

step 1 "installing what the suite needs"
need_packages hyperfine jq runc crun runsc containerd containernetworking-plugins qemu-system-x86 iproute2 linux-perf
{ command -v moat && command -v containerd-shim-moat-v2; } >/dev/null || ./scripts/setup.sh
dotnet build bench/Moat.Bench -c Release --nologo -v q -clp:NoSummary >/dev/null
bench() { dotnet bench/Moat.Bench/bin/Release/net10.0/moat-bench.dll "$@"; }

out="bench/results/$(date -u +%Y-%m-%d)${BENCH_STEPS:+-steps-${BENCH_STEPS// /-}}"
mkdir -p "$out"
rm -f "$out"/{samples.csv,summary.csv,results.json,notes.txt,report.md,machine.md} "$out"/*.png
samples="$out/samples.csv"
note() { echo "  note: $*"; echo "$*" >> "$out/notes.txt"; }
work=$(mktemp -d /tmp/moat-bench.XXXXXX)
img=docker.io/library/busybox:latest
C="ctr -a $work/c.sock -n bench"
ctd=""
cleanup() {
  # Every step runs whatever the one before it returned (under set -e a failed wait, say, for a
  # containerd killed by a signal, ended the clean-up there and left every pod's shim behind).
  set +e
  if [ -n "$ctd" ]; then
    # After an interrupted run: pods through CRI (which also removes their network namespaces),
    # then ctr's containers, then any shim still serving this containerd, with its processes.
    bench cleanup --socket "$work/c.sock" 2>/dev/null || true
    for t in $($C tasks ls -q 2>/dev/null); do $C tasks kill -s KILL "$t"; sleep 1; $C tasks rm -f "$t"; done >/dev/null 2>&1
    for c in $($C containers ls -q 2>/dev/null); do $C containers rm "$c"; done >/dev/null 2>&1
    kill "$ctd" 2>/dev/null && wait "$ctd" 2>/dev/null
    for p in $(pgrep -f -- "-address $work/c.sock"); do pkill -9 -P "$p"; kill -9 "$p"; done 2>/dev/null
  fi
  umount_under "$work"
  hugetlb_return
  ip link del moatbench0 2>/dev/null || true
  rm -rf "$work" /tmp/moat-bench-pods
}
trap cleanup EXIT

step 2 "starting a private containerd (CRI, bridge CNI) with runtimes runc, crun, runsc, moat"
hugetlb_lend
printf '#!/bin/sh\nexec /usr/bin/runsc --platform=ptrace --network=none "$@"\n' > "$work/runsc" && chmod +x "$work/runsc"
write_cri_config "$work" bench moatbench0 10.88.0.0/16
cat >> "$work/config.toml" <<TOML
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "/usr/bin/crun"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
        BinaryName = "$work/runsc"
TOML
echo "" > "$work/moat.toml"
moat --config "$work/moat.toml" install containerd --config-file "$work/config.toml" >/dev/null
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
ctd=$!
until ctr -a "$work/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
moat image archive "$work/bb.tar" >/dev/null
moat image archive "$work/pause.tar" --name moat.local/pause:3.6 --cmd sleep infinity >/dev/null
for ns in bench k8s.io; do
  ctr -a "$work/c.sock" -n $ns images import "$work/bb.tar" >/dev/null
  ctr -a "$work/c.sock" -n $ns images import "$work/pause.tar" >/dev/null
done
moat image busybox "$work/bundle" true >/dev/null
# What `docker run -m 256m` hands its runtime: a memory limit on the container.
moat image busybox "$work/bundle-mem" true >/dev/null
jq '.linux.resources.memory = {"limit": 268435456}' "$work/bundle-mem/config.json" > "$work/mem.json" && mv "$work/mem.json" "$work/bundle-mem/config.json"
# The VM templates of the common shapes, as `moat image build` makes them on an installed host:
# no measured start makes one (a pod's first start would otherwise boot and save its shape's).
moat image templates >/dev/null
{
  machine_lines
  echo "- Guest kernel: $(jq -r .kernelVersion "$(readlink -f /var/lib/moat/guest/current)/manifest.json"); Moat $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src bench/Moat.Bench scripts 2>/dev/null || echo ' with uncommitted changes')"
  echo "- containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), crun $(crun --version | head -1 | awk '{print $3}'), runsc $(runsc --version 2>/dev/null | head -1 | awk '{print $3}') (--platform=ptrace --network=none, through the runc shim)"
} > "$out/machine.md"
cat "$out/machine.md"

# Each runtime is measured only where one probe run works; otherwise the note says why.
declare -A ctr_flags=([runc]="--runtime io.containerd.runc.v2" [crun]="--runtime io.containerd.runc.v2 --runc-binary /usr/bin/crun"
                      [runsc]="--runtime io.containerd.runc.v2 --runc-binary $work/runsc" [moat]="--runtime io.containerd.moat.v2")
declare -A cli_run=([runc]="runc --root $work/runc run --bundle $work/bundle"
                    [crun]="crun --root $work/crun run --bundle $work/bundle"
                    [runsc]="runsc --platform=ptrace --network=none --root $work/runsc-root run --bundle $work/bundle"
                    [moat]="moat --root $work/moat run --bundle $work/bundle")
runtimes=()
for r in runc crun runsc moat; do
  if $C run --rm ${ctr_flags[$r]} $img probe-$r true >"$work/probe-$r.log" 2>&1; then runtimes+=("$r")
  else note "$r: skipped, a probe \`ctr run\` failed: $(tr '\n' ' ' < "$work/probe-$r.log" | cut -c1-300)"; fi
done
echo "runtimes: ${runtimes[*]}"

# Debian's runsc has no containerd shim: through the runc shim every CRI container would be its own
# gVisor sandbox, and runsc, seeing the CRI annotations, waits to join the pod's sandbox instead.
cri_runtimes=(); for r in "${runtimes[@]}"; do [ "$r" = runsc ] || cri_runtimes+=("$r"); done
[[ " ${runtimes[*]} " == *" runsc "* ]] && note "CRI (pod start, memory, density, network), runsc: not measured; Debian's runsc has no containerd shim, and through the runc shim its pod containers wait to join a sandbox that shim never makes"

if want 3; then
step 3 "start latency: bare QEMU boot and ctr run --rm /bin/true per runtime"
hyperfine --warmup 1 --runs "$runs" -N --export-json "$work/bare.json" -n "bare QEMU boot" "$(bare_qemu_boot)"
bench hyperfine --samples "$samples" --group start-bare --file "$work/bare.json"
args=()
for r in "${runtimes[@]}"; do args+=(-n "$r" "$C run --rm ${ctr_flags[$r]} $img b-$r /bin/true"); done
hyperfine --warmup 1 --runs "$runs" -N --export-json "$work/ctr.json" "${args[@]}"
bench hyperfine --samples "$samples" --group start-ctr --file "$work/ctr.json"

fi
if want 4; then
step 4 "start latency: CLI run of a bundle per runtime, and the shim's start"
args=()
for r in "${runtimes[@]}"; do
  if ${cli_run[$r]} probe-cli >"$work/cli-$r.log" 2>&1; then args+=(-n "$r" "${cli_run[$r]} c-$r")
  else note "$r: CLI run skipped: $(tr '\n' ' ' < "$work/cli-$r.log" | cut -c1-300)"; fi
done
args+=(-n "moat --pid-file (shim daemon)" "moat --root $work/moat run --pid-file $work/pid --bundle $work/bundle c-moat-d")
args+=(-n "moat, memory limit 256 MiB" "moat --root $work/moat run --bundle $work/bundle-mem c-moat-mem")
# Without a VM template every run boots the guest kernel: what the first VM of a shape costs.
args+=(-n "moat, template off (boots)" "env MOAT_TEMPLATE=0 moat --root $work/moat run --bundle $work/bundle c-moat-boot")
hyperfine --warmup 1 --runs "$runs" -N --export-json "$work/cli.json" "${args[@]}"
bench hyperfine --samples "$samples" --group start-cli --file "$work/cli.json"
mkdir -p "$work/shim-start" && (cd "$work/bundle" && hyperfine --warmup 1 --runs "$runs" -N --export-json "$work/shim.json" \
  --cleanup "pkill -f 'bench-star[t].*__serve'" -n "containerd-shim-moat-v2 start" \
  "containerd-shim-moat-v2 -namespace bench-start -id s1 -address $work/c.sock -publish-binary /usr/bin/containerd start")
bench hyperfine --samples "$samples" --group start-shim --file "$work/shim.json"

fi
if want 5; then
step 5 "where Moat's start goes: moat --debug run, $runs times"
# A debug guest is a VM shape of its own: its template is made by a first run left out of the figures.
moat --debug --root "$work/moat" run --bundle "$work/bundle" p-warm >/dev/null 2>&1 || true
for i in $(seq 1 "$runs"); do moat --debug --root "$work/moat" run --bundle "$work/bundle" "p-$i" 2>"$work/phases-$i.txt" >/dev/null; done
bench phases --samples "$samples" -- "$work"/phases-*.txt
# Who spends a start's CPU: QEMU's vCPU thread (TCG translating, or the guest's translated code), its other threads, Moat.
bench cpu-profile --samples "$samples" --runs "$runs" --dir "$work" -- moat --root "$work/moat" run --bundle "$work/bundle" "cpu-{i}"
fi
if want 6; then
step 6 "CRI pod start and memory of one idle pod: ${cri_runtimes[*]}, $runs times each"
sleep 2 # the CRI plugin loads the CNI configuration a moment after it starts
# Then Moat's pod starts under a system-wide perf: whose CPU a pod start takes.
profile=(); [[ " ${cri_runtimes[*]} " == *" moat "* ]] && profile=(--profile-handler moat --profile-runs "$profile_runs" --dir "$work")
bench cri-start --samples "$samples" --socket "$work/c.sock" --runs "$runs" --handlers "$(IFS=,; echo "${cri_runtimes[*]}")" "${profile[@]}"

fi
if want 7; then
step 7 "density: idle pods up to $pods (runc, moat) and $memory_at (the others)"
for r in "${cri_runtimes[@]}"; do
  max=$memory_at; { [ "$r" = runc ] || [ "$r" = moat ]; } && max=$pods
  bench density --samples "$samples" --socket "$work/c.sock" --handler "$r" --max "$max" --memory-at "$memory_at" || note "density, $r: failed (see above)"
done

fi
if want 8; then
step 8 "workload: stdout ($stdout_mib MiB), rootfs ($rootfs_mib MiB, $files files), share ($share_mib MiB), CPU loop, network ($net_mib MiB)"
# A file the host wrote, bind-mounted read-only: what a volume or an image layer is to the guest.
mkdir -p "$work/share" && head -c "$((share_mib * 1048576))" /dev/urandom > "$work/share/f"
for r in "${runtimes[@]}"; do
  bench workload --samples "$samples" --case "$r" --runs "$runs" --stdout-mib "$stdout_mib" -- \
    $C run --rm ${ctr_flags[$r]} $img "o-$r-{i}" dd if=/dev/zero bs=1M count="$stdout_mib" || note "stdout, $r: failed (see above)"
  bench workload --samples "$samples" --case "$r" --runs "$runs" -- \
    $C run --rm ${ctr_flags[$r]} --mount "type=bind,src=$work/share,dst=/share,options=rbind:ro" $img "w-$r-{i}" \
    sh -c "$(cat bench/workload.sh)" workload "$rootfs_mib" "$files" "$loop" "$stdout_mib" || note "rootfs and CPU, $r: failed (see above)"
  [ "$r" = runsc ] && continue # no CRI pods for runsc (see above)
  bench network --samples "$samples" --socket "$work/c.sock" --handler "$r" --runs "$runs" --mib "$net_mib" || note "network, $r: failed (see above)"
done
if [[ " ${runtimes[*]} " == *" moat "* ]]; then
  # Where Moat's I/O time goes: each workload alone in a foreground moat run, under perf. The
  # host-written file is read from the rootfs, which reaches the guest through the same share.
  if moat image busybox "$work/io-stdout" dd if=/dev/zero bs=1M count="$stdout_mib" >/dev/null \
    && moat image busybox "$work/io-rootfs" sh -c "dd if=/dev/zero of=/f bs=1M count=$rootfs_mib conv=fsync && dd if=/f of=/dev/null bs=1M && rm /f" >/dev/null \
    && moat image busybox "$work/io-share" sh -c "for i in 1 2 3; do dd if=/f of=/dev/null bs=1M; done" >/dev/null \
    && cp "$work/share/f" "$work/io-share/rootfs/f" \
    && moat image busybox "$work/io-files" sh -c "mkdir /d && cd /d && seq 1 $files | xargs touch && ls -l >/dev/null && cd / && rm -r /d" >/dev/null; then
    for w in "stdout:stdout, $stdout_mib MiB" "rootfs:rootfs write + read, $rootfs_mib MiB" "share:share read 3×, $share_mib MiB" "files:small files, $files × 3 ops"; do
      bench cpu-profile --samples "$samples" --group cpu-io --metric "${w#*:}" --runs "$profile_runs" --dir "$work" -- moat --root "$work/moat" run --bundle "$work/io-${w%%:*}" "io-${w%%:*}-{i}" \
        || note "I/O profile, ${w#*:}: failed (see above)"
    done
  else
    note "I/O profiles: their bundles could not be made (see above)"
  fi
fi

fi
step 9 "report"
bench report --dir "$out" --mode "$mode"
