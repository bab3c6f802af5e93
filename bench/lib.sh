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
