#!/usr/bin/env bash
# What a change costs: the installed Moat (this tree, after scripts/setup.sh) against Moat built at
# REV, side by side in one hyperfine run: `moat run` of /bin/true in the foreground and through the
# shim daemon (--pid-file, as Docker and containerd's runc shim drive it), and the host PSS of one
# idle container (shim daemon + QEMU). REV gets its own prefix and guest image under a temp dir.
# Writes bench/results/<date>/compare-<rev>.md. Usage: bench/compare.sh REV [RUNS]   (root)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rev=${1:?usage: bench/compare.sh REV [RUNS]}
runs=${2:-10}
short=$(git rev-parse --short "$rev")
need_packages hyperfine jq
command -v moat >/dev/null || ./scripts/setup.sh

out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
work=$(mktemp -d /tmp/moat-compare.XXXXXX)
cleanup() {
  for r in "$work/r-old" "$work/r-new"; do
    for id in $(ls "$r" 2>/dev/null); do moat --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  git worktree remove --force "$work/src" >/dev/null 2>&1 || true
  umount_under "$work"
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building Moat at $short into $work/prefix"
git worktree add --detach "$work/src" "$rev" >/dev/null 2>&1
lib="$work/prefix/lib/moat"
(cd "$work/src" && for p in Agent Cli Shim Vmm; do
   [ -d "src/Moat.$p" ] || continue # moat-vmm came later: before it, moat re-executes itself
   dotnet publish "src/Moat.$p" -c Release -r linux-x64 -o "$work/publish/$p" -nologo -v quiet -p:DebugType=none >/dev/null
 done)
mkdir -p "$lib"
cp "$work/publish/Agent/moat-agent" "$work/publish/Cli/moat" "$work/publish/Shim/containerd-shim-moat-v2" "$lib/"
if [ -f "$work/publish/Vmm/moat-vmm" ]; then cp "$work/publish/Vmm/moat-vmm" "$lib/"; fi
"$lib/moat" --data-dir "$work/data" image build >/dev/null
# Its guest image and templates live in its own data directory; a configuration file carries that
# to its shim daemon too (a kernel override would turn templates off and time full boots).
printf '[runtime]\ndata_dir = "%s"\n' "$work/data" > "$work/old.toml"
old="$lib/moat --config $work/old.toml"
moat image busybox "$work/bundle" true >/dev/null
moat image busybox "$work/idle" sleep 3600 >/dev/null

# Warm both template caches once, outside the timing.
$old --root "$work/r-old" run --bundle "$work/bundle" warm >/dev/null
moat --root "$work/r-new" run --bundle "$work/bundle" warm >/dev/null

# Each run gets a fresh id (sh -c ... $$): older versions could not reuse an id at once (issue 18).
hyperfine --warmup 1 --runs "$runs" -N --export-json "$work/h.json" --export-markdown "$work/table.md" \
  -n "$short: moat run (foreground)" "sh -c '$old --root $work/r-old run --bundle $work/bundle f-\$\$'" \
  -n "HEAD: moat run (foreground)" "sh -c 'moat --root $work/r-new run --bundle $work/bundle f-\$\$'" \
  -n "$short: moat run --pid-file (shim daemon)" "sh -c '$old --root $work/r-old run --pid-file $work/p-old --bundle $work/bundle d-\$\$'" \
  -n "HEAD: moat run --pid-file (shim daemon)" "sh -c 'moat --root $work/r-new run --pid-file $work/p-new --bundle $work/bundle d-\$\$'"

# PSS (MiB) of the shim daemon serving one id and the processes under it (QEMU).
pss_of_tree() {
  local shim=$1 total=0 p
  for p in $shim $(pgrep -P "$shim"); do
    total=$((total + $(awk '/^Pss:/ {s+=$2} END {print s+0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  awk -v k="$total" 'BEGIN { printf "%.1f", k/1024 }'
}
idle_pss() { # MOAT-COMMAND ROOT
  local cmd=$1 root=$2 id="idle-$RANDOM" shim sum=0 i
  for i in 1 2 3; do
    $cmd --root "$root" run --detach --bundle "$work/idle" "$id-$i" >/dev/null
    sleep 5
    shim=$(pgrep -f "containerd-shim-moat-v2 .*-id $id-$i .*__serve" | head -1)
    sum=$(awk -v a="$sum" -v b="$(pss_of_tree "$shim")" 'BEGIN { print a + b }')
    $cmd --root "$root" delete --force "$id-$i" >/dev/null
  done
  awk -v s="$sum" 'BEGIN { printf "%.1f", s/3 }'
}
pss_old=$(idle_pss "$old" "$work/r-old")
pss_new=$(idle_pss moat "$work/r-new")

{
  echo "# Moat at HEAD ($(git rev-parse --short HEAD)) against $short — $(date -u +%FT%TZ)"
  echo
  machine_lines
  echo
  cat "$work/table.md"
  echo
  echo "| idle container (shim daemon + QEMU), host PSS, mean of 3 | $short | HEAD |"
  echo "|---|---|---|"
  echo "| MiB | $pss_old | $pss_new |"
} > "$out/compare-$short.md"
cat "$out/compare-$short.md"
