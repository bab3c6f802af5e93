# Shared by the bench scripts (source it from the repository root).

# The bare QEMU boot-to-init-and-poweroff of Moat's own guest kernel and initrd, with the kernel
# parameters Moat boots with (read from the source): the floor for any QEMU-based runtime.
bare_qemu_boot() {
  local image accel params
  image=$(readlink -f /var/lib/moat/guest/current)
  accel=$([ "$(moat_accelerator)" = kvm ] && echo "-machine q35,accel=kvm -cpu host" || echo "-machine q35 -accel tcg,tb-size=$(grep -o "DefaultTcgTranslationCacheMiB = [0-9]*" src/Moat.Hypervisor/VmConfig.cs | grep -o "[0-9]*$") -cpu max")
  params=$(sed -n '/const string Default/,/;/p' src/Moat.Runtime/KernelParams.cs | grep -o '"[^"]*"' | tr -d '"\n')
  # The firmware Moat gives q35 when Debian ships it (RuntimeOptions.Qboot).
  [ -f /usr/share/qemu/qboot.rom ] && accel="$accel -bios /usr/share/qemu/qboot.rom"
  echo "qemu-system-x86_64 $accel -smp 1 -m 512M -nodefaults -no-user-config -nographic -display none -no-reboot \
 -kernel $image/vmlinux -initrd $image/initrd.img -append 'console=ttyS0 panic=-1 moat.poweroff $params' \
 -device virtio-serial-pci -serial null"
}

# The accelerator Moat runs VMs with on this machine (kvm or tcg): its own verdict (a KVM that
# opens but cannot run the guest is not KVM), from `moat check`, computed once per boot.
moat_accelerator() {
  moat check --json 2>/dev/null | jq -r '.accelerator // "tcg"'
}

# The machine a result was taken on, as Markdown list items.
machine_lines() {
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- Accelerator: $(moat_accelerator | tr a-z A-Z) ($(moat check --json 2>/dev/null | jq -r '.accelerator_reason // "moat check gave no reason"'))"
  echo "- Host kernel: $(uname -r); QEMU: $(qemu-system-x86_64 --version | head -1)"
}

# Installs the Debian packages named that are missing.
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# crun refuses a hybrid cgroup layout while the v2 hierarchy owns a controller (hugetlb here):
# mount a v1 hugetlb hierarchy for the run (hugetlb_lend), and give it back (hugetlb_return).
hugetlb_lent=""
hugetlb_lend() {
  if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb hugetlb /sys/fs/cgroup/hugetlb && hugetlb_lent=1
  fi
}
hugetlb_return() {
  [ -n "$hugetlb_lent" ] || return 0
  umount /sys/fs/cgroup/hugetlb 2>/dev/null; rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true
  local tmp; tmp=$(mktemp -d)
  for _ in 1 2 3 4 5; do
    grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers && break
    mount -t cgroup -o hugetlb hugetlb "$tmp" && umount "$tmp"; sleep 1
  done
  rmdir "$tmp"; hugetlb_lent=""
}

# Unmounts everything mounted under a directory, deepest first.
umount_under() {
  { grep -o " $1[^ ]*" /proc/self/mountinfo || true; } | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}

# A private containerd for the bench scripts: DIR/config.toml (its root, state and sockets under
# DIR, CRI with runc as the default runtime) and a bridge CNI network of its own in DIR/cni
# (never an address outside this machine). The caller appends further runtime tables and runs
# `moat install containerd` on it.
write_cri_config() {
  local dir=$1 name=$2 bridge=$3 subnet=$4
  mkdir -p "$dir/cni"
  cat > "$dir/cni/10-$name.conflist" <<JSON
{ "cniVersion": "0.4.0", "name": "moat-$name", "plugins": [ { "type": "bridge", "bridge": "$bridge", "isGateway": true,
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$subnet" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$dir/ipam" } } ] }
JSON
  write_containerd_config "$dir"
  cat >> "$dir/config.toml" <<TOML
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
    conf_dir = "$dir/cni"
TOML
}

# DIR/config.toml of a private containerd without any plugin section: its root, state and sockets under DIR.
write_containerd_config() {
  cat > "$1/config.toml" <<TOML
version = 2
root = "$1/croot"
state = "$1/cstate"
[grpc]
  address = "$1/c.sock"
[ttrpc]
  address = "$1/c.sock.ttrpc"
TOML
}
