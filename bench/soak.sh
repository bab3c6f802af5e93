#!/usr/bin/env bash
# Soak: create -> start -> exec -> kill -> delete cycles through Moat's CLI (runc verbs), through
# containerd (ctr, io.containerd.moat.v2) and through containerd's CRI (pods as kubelet drives
# them: run pod, create, start, exec, stop, remove), with concurrent workers, every other cycle
# reusing the worker's id (for CRI: its pod name). After every round a census counts what no running container accounts for (QEMU
# processes, shim daemons, relays, mounts, tap devices, network namespaces, VM sockets, state
# directories); one long-lived container is exec'd into every cycle and its shim daemon's open fds
# and RSS are sampled, which must stay flat.
# Writes bench/results/<date>/soak.md and soak.csv ($SOAK_OUT instead, if set). Usage (root, after scripts/setup.sh):
#   bench/soak.sh [CYCLES [WORKERS [ROUND]]]   defaults 500 10 50; paths in SOAK_PATHS ("cli ctr cri")
# Exits non-zero on any failed cycle or leak.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
cycles=${1:-500} workers=${2:-10} round=${3:-50}
paths=${SOAK_PATHS:-cli ctr cri}
need_packages containerd jq containernetworking-plugins iproute2
command -v moat >/dev/null || ./scripts/setup.sh
has_path() { [[ " $paths " == *" $1 "* ]]; }
if has_path cri; then
  dotnet build bench/Moat.Bench -c Release --nologo -v q -clp:NoSummary >/dev/null
fi
bench() { dotnet bench/Moat.Bench/bin/Release/net10.0/moat-bench.dll "$@"; }

out="${SOAK_OUT:-bench/results/$(date -u +%Y-%m-%d)}"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-soak.XXXXXX)
C="ctr -a $work/c.sock -n soak"
ctd=""
cleanup() {
  # Every step runs whatever the one before it returned (under set -e a failed wait, say, for a
  # containerd killed by a signal, ended the clean-up there and left every pod's shim behind).
  set +e
  # What failed cycles said, and containerd's side of it, outlive the work directory.
  if grep -q FAILED "$work/cycles.log" 2>/dev/null; then cp "$work/cycles.log" "$out/soak-cycles.log"; cp "$work/containerd.log" "$out/soak-containerd.log" 2>/dev/null || true; fi
  moat --root "$work/root" delete --force resident >/dev/null 2>&1 || true
  for id in $(ls "$work/root" 2>/dev/null); do moat --root "$work/root" delete --force "$id" >/dev/null 2>&1 || true; done
  if [ -n "$ctd" ]; then
    if has_path cri; then bench cleanup --socket "$work/c.sock" >/dev/null 2>&1 || true; fi
    for t in $($C tasks ls -q 2>/dev/null); do $C tasks kill -s KILL "$t"; sleep 1; $C tasks rm -f "$t"; done >/dev/null 2>&1
    for c in $($C containers ls -q 2>/dev/null); do $C containers rm "$c"; done >/dev/null 2>&1
    kill "$ctd" 2>/dev/null && wait "$ctd" 2>/dev/null
  fi
  umount_under "$work"
  ip link del moatsoak0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# sh loops forever (busybox sleep takes no "infinity"): the resident lives as long as the soak, however long
moat image busybox "$work/bundle" sh -c "while :; do sleep 3600; done" >/dev/null
if has_path ctr || has_path cri; then
  if has_path cri; then
    # Pods get a bridge network of their own.
    write_cri_config "$work" soak moatsoak0 10.77.0.0/16
    echo "" > "$work/moat.toml"
    moat --config "$work/moat.toml" install containerd --config-file "$work/config.toml" >/dev/null
  else
    write_containerd_config "$work"
    echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' >> "$work/config.toml"
  fi
  containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
  ctd=$!
  until ctr -a "$work/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
  moat image archive "$work/bb.tar" >/dev/null
  moat image archive "$work/pause.tar" --name moat.local/pause:3.6 --cmd sleep infinity >/dev/null
  for ns in soak k8s.io; do
    ctr -a "$work/c.sock" -n $ns images import "$work/bb.tar" >/dev/null
    ctr -a "$work/c.sock" -n $ns images import "$work/pause.tar" >/dev/null
  done
  sleep 2 # the CRI plugin loads the CNI configuration a moment after it starts
fi

# VM sockets that were there before (other sandboxes of this host) are not ours to count.
vm_sockets() { find /run/moat-node/vm -name '*.sock' 2>/dev/null | wc -l; }
base_sockets=$(vm_sockets)
# Network namespaces: the CRI plugin makes one per pod (cni-...) and must remove it with the pod.
netns_count() { { ls /var/run/netns 2>/dev/null || true; } | wc -l; }
base_netns=$(netns_count)

# The resident container: exec'd into every cycle; its shim must not grow.
moat --root "$work/root" run -d --bundle "$work/bundle" resident >/dev/null
resident_shim=$(pgrep -f "containerd-shim-moat-v2 .*-id resident .*__serve" | head -1)

wait_stopped_cli() { for _ in $(seq 1 300); do moat --root "$work/root" state "$1" 2>/dev/null | grep -q '"stopped"' && return 0; sleep 0.1; done; return 1; }
wait_stopped_ctr() { for _ in $(seq 1 300); do $C tasks ls 2>/dev/null | grep -q "^$1 .*STOPPED" && return 0; sleep 0.1; done; return 1; }

cycle_cli() { # ID
  local m="moat --root $work/root"
  $m create --bundle "$work/bundle" "$1" && $m start "$1" && $m exec "$1" true && $m exec resident true \
    && $m kill "$1" KILL && wait_stopped_cli "$1" && $m delete "$1"
}
cycle_ctr() { # ID
  $C run -d --runtime io.containerd.moat.v2 docker.io/library/busybox:latest "$1" sleep 3600 >/dev/null \
    && $C tasks exec --exec-id e1 "$1" true && moat --root "$work/root" exec resident true \
    && $C tasks kill -s SIGKILL "$1" && wait_stopped_ctr "$1" && $C tasks delete "$1" >/dev/null && $C containers rm "$1"
}

cycle_cri() { # ID (the pod's name)
  bench cri-cycle --socket "$work/c.sock" --name "$1" && moat --root "$work/root" exec resident true
}

# One worker runs N cycles on PATH; even cycles reuse its id, odd ones take a fresh one.
worker() { # PATH WORKER N FIRST
  local path=$1 w=$2 n=$3 first=$4 i id failed=0
  for ((i = first; i < first + n; i++)); do
    if ((i % 2 == 0)); then id="soak-$path-$w"; else id="soak-$path-$w-$i"; fi
    if ! "cycle_$path" "$id" >>"$work/cycles.log" 2>&1; then
      failed=$((failed + 1)); echo "FAILED $path worker $w cycle $i ($id)" >>"$work/cycles.log"
      moat --root "$work/root" delete --force "$id" >/dev/null 2>&1 || true
      [ "$path" = cri ] && { bench cleanup --socket "$work/c.sock" >/dev/null 2>&1 || true; }
      if [ "$path" = ctr ]; then
        $C tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; sleep 1
        $C tasks delete "$id" >/dev/null 2>&1 || true; $C containers rm "$id" >/dev/null 2>&1 || true
      fi
    fi
  done
  echo "$failed" > "$work/failed-$path-$w-$first"
}

# What no running container accounts for: only the resident's shim and QEMU may be alive.
census() {
  local qemu shims relays mounts taps netns veths sockets states
  qemu=$(pgrep -fc "qemu-system.*moat" || true); qemu=$((qemu - 1))
  shims=$(pgrep -fc "containerd-shim-moat-v2 .*__serve" || true); shims=$((shims - 1))
  relays=$(pgrep -fc "moat __relay" || true); relays=$((relays - 1))
  mounts=$({ grep -c -e "$work" -e /run/moat-node /proc/self/mountinfo || true; })
  taps=$({ ip -o link show type tap 2>/dev/null | grep -c moat || true; })
  netns=$(( $(netns_count) - base_netns ))
  veths=$({ ip -o link show master moatsoak0 2>/dev/null | grep -c . || true; })
  sockets=$(( $(vm_sockets) - base_sockets - 2 ))
  states=$(( $(find "$work/root" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) - 1 ))
  echo "$qemu,$shims,$relays,$mounts,$((taps + veths)),$netns,$sockets,$states"
}
shim_sample() { echo "$(ls /proc/"$resident_shim"/fd | wc -l),$(awk '/^VmRSS:/ {print $2}' /proc/"$resident_shim"/status)"; }

echo "cycles_done,path,failed,qemu,shims,relays,mounts,taps_veths,netns,vm_sockets,state_dirs,resident_shim_fds,resident_shim_rss_kib,seconds" > "$out/soak.csv"
total_failed=0 leaks=0 start=$(date +%s)
base_mounts=$(grep -c -e "$work" -e /run/moat-node /proc/self/mountinfo || true)
for path in $paths; do
  done_cycles=0
  while ((done_cycles < cycles)); do
    per=$(( (round + workers - 1) / workers ))
    pids=()
    for ((w = 0; w < workers; w++)); do worker "$path" "$w" "$per" "$done_cycles" & pids+=($!); done
    wait "${pids[@]}" # the workers only: containerd is a job of this shell too
    done_cycles=$((done_cycles + per * workers))
    failed=$(cat "$work"/failed-"$path"-* | awk '{s+=$1} END {print s+0}')
    sleep 2 # a deleted container's daemon has exited by the time delete returned; give stragglers a moment anyway
    c=$(census); s=$(shim_sample)
    IFS=, read -r q sh r mo t ns so st <<<"$c"
    mo=$((mo - base_mounts))
    echo "$done_cycles,$path,$failed,$q,$sh,$r,$mo,$t,$ns,$so,$st,$s,$(( $(date +%s) - start ))" >> "$out/soak.csv"
    echo "  $path: $done_cycles cycles, $failed failed; left: qemu $q shims $sh relays $r mounts $mo taps+veths $t netns $ns sockets $so state dirs $st; resident shim fds,rss $s"
    if ((q + sh + r + mo + t + ns + so + st > 0)); then leaks=$((leaks + 1)); fi
  done
  total_failed=$((total_failed + failed))
  rm -f "$work"/failed-"$path"-*
done

{
  echo "# Moat soak — $(date -u +%FT%TZ)"
  echo
  machine_lines
  echo "- $cycles cycles per path ($paths), $workers concurrent workers, census every $round cycles; Moat $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| cycles | path | failed | qemu | shims | relays | mounts | taps+veths | netns | VM sockets | state dirs | resident shim fds | resident shim RSS KiB | s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  tail -n +2 "$out/soak.csv" | tr ',' '|' | sed 's/^/|/; s/$/|/'
  echo
  echo "Failed cycles: $total_failed; rounds with leftovers: $leaks."
  grep FAILED "$work/cycles.log" | head -20 | sed 's/^/    /' || true
} > "$out/soak.md"
cat "$out/soak.md"
[ "$total_failed" -eq 0 ] && [ "$leaks" -eq 0 ]
