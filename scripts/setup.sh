#!/usr/bin/env bash
# Installs what Moat needs on Debian 12 (as root), builds Moat (NativeAOT), installs it under
# $MOAT_PREFIX (default /usr/local: binaries in lib/moat, `moat` linked into bin) and builds the
# guest image under /var/lib/moat. Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="${MOAT_PREFIX:-/usr/local}"
PACKAGES=(qemu-system-x86 busybox-static xz-utils kmod cpio dpkg clang zlib1g-dev iproute2 iptables procps util-linux libseccomp2 ${MOAT_EXTRA_PACKAGES:-})

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (Moat boots VMs and mounts filesystems)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (dotnet not found on PATH); install it from Microsoft's Debian packages" >&2
  exit 1
fi

say "building Moat (NativeAOT: moat, moat-agent, moat-vmm, containerd-shim-moat-v2)"
out=out/publish
dotnet publish src/Moat.Agent -c Release -r linux-x64 -o "$out/agent" -nologo -v quiet -p:DebugType=none
dotnet publish src/Moat.Cli -c Release -r linux-x64 -o "$out/cli" -nologo -v quiet -p:DebugType=none
dotnet publish src/Moat.Shim -c Release -r linux-x64 -o "$out/shim" -nologo -v quiet -p:DebugType=none
dotnet publish src/Moat.Vmm -c Release -r linux-x64 -o "$out/vmm" -nologo -v quiet -p:DebugType=none
# The AOT smoke check: trim and AOT analysis warnings are errors (TreatWarningsAsErrors), so the
# publishes above fail on any; each result must be a native executable, and its size is told.
sizes=()
for f in "$out/cli/moat" "$out/agent/moat-agent" "$out/vmm/moat-vmm" "$out/shim/containerd-shim-moat-v2"; do
  if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" != '177ELF' ]; then
    echo "setup: $f is not a native executable: the NativeAOT publish did not produce one" >&2
    exit 1
  fi
  sizes+=("$(basename "$f") $(( $(stat -c %s "$f") / 1024 )) KiB")
done
say "NativeAOT binaries: ${sizes[0]}, ${sizes[1]}, ${sizes[2]}, ${sizes[3]}"

say "installing into $PREFIX"
install -d "$PREFIX/lib/moat" "$PREFIX/bin"
install -m 0755 "$out/cli/moat" "$PREFIX/lib/moat/moat.new" && mv -f "$PREFIX/lib/moat/moat.new" "$PREFIX/lib/moat/moat"
install -m 0755 "$out/agent/moat-agent" "$PREFIX/lib/moat/moat-agent.new" && mv -f "$PREFIX/lib/moat/moat-agent.new" "$PREFIX/lib/moat/moat-agent"
install -m 0755 "$out/vmm/moat-vmm" "$PREFIX/lib/moat/moat-vmm.new" && mv -f "$PREFIX/lib/moat/moat-vmm.new" "$PREFIX/lib/moat/moat-vmm"
install -m 0755 "$out/shim/containerd-shim-moat-v2" "$PREFIX/lib/moat/containerd-shim-moat-v2.new" && mv -f "$PREFIX/lib/moat/containerd-shim-moat-v2.new" "$PREFIX/lib/moat/containerd-shim-moat-v2"
ln -sfn "$PREFIX/lib/moat/moat" "$PREFIX/bin/moat"
ln -sfn "$PREFIX/lib/moat/containerd-shim-moat-v2" "$PREFIX/bin/containerd-shim-moat-v2"

say "building the guest image"
"$PREFIX/bin/moat" image build
