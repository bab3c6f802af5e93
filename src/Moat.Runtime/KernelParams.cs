namespace Moat.Runtime;

public static class KernelParams
{
    /// <summary>
    /// Guest kernel parameters (Kata's set): skip probes a VM does not need (i8042, timer checks,
    /// crypto self-tests, PCI bus scan past bus 0, extra UARTs). Measured under TCG here: boot to
    /// /init 2.3-2.9 s without them, 1.7-2.0 s with them. bench/run.sh boots the bare floor with the same.
    /// Two more keep an idle guest asleep, since every wake-up costs host CPU (most under TCG): no
    /// soft-lockup watchdog (a 4 s timer) and no proactive compaction (kcompactd every 500 ms).
    /// </summary>
    public const string Default =
        "quiet tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 " +
        "i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests pci=lastbus=0 8250.nr_uarts=1 " +
        "nowatchdog sysctl.vm.compaction_proactiveness=0";
}
