# Shared by the bench scripts (source it from the repository root).

# The bare QEMU boot-to-init-and-poweroff of Moat's own guest kernel and initrd, with the kernel
# parameters Moat boots with (read from the source): the floor for any QEMU-based runtime.
bare_qemu_boot() {
  local image accel params
  image=$(readlink -f /var/lib/moat/guest/current)
  accel=$([ -w /dev/kvm ] && echo "-machine q35,accel=kvm -cpu host" || echo "-machine q35 -accel tcg,tb-size=64 -cpu max")
  params=$(sed -n '/const string Default/,/;/p' src/Moat.Runtime/KernelParams.cs | grep -o '"[^"]*"' | tr -d '"\n')
  echo "qemu-system-x86_64 $accel -smp 1 -m 512M -nodefaults -no-user-config -nographic -display none -no-reboot \
 -kernel $image/vmlinux -initrd $image/initrd.img -append 'console=ttyS0 panic=-1 moat.poweroff $params' \
 -device virtio-serial-pci -serial null"
}

# The machine a result was taken on, as Markdown list items.
machine_lines() {
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores"
  echo "- Accelerator: $([ -w /dev/kvm ] && echo KVM || echo 'TCG (no /dev/kvm)')"
  echo "- Host kernel: $(uname -r); QEMU: $(qemu-system-x86_64 --version | head -1)"
}
