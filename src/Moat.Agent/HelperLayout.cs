using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// Under software emulation (kernel parameter <c>moat.tcg</c>) the agent and its container-init
/// helpers, one binary, run at the same fixed addresses. QEMU's TCG looks translated code up by
/// virtual address, so a helper reuses what the agent and earlier helpers translated (the .NET
/// runtime's start, the JSON and set-up code) instead of translating it again. The host boots the
/// guest with <c>norandmaps</c> so that the kernel starts the agent unrandomized too; the agent
/// then turns randomization back on for everything else, and a helper clears its own exemption
/// before it execs the workload, which gets a random layout as usual.
/// </summary>
internal static class HelperLayout
{
    public const string KernelParameter = "moat.tcg";

    /// <summary>
    /// In the agent (PID 1, /proc mounted): randomization on again for the guest, off for the
    /// helpers the agent spawns from now on.
    /// </summary>
    public static void FixForHelpers()
    {
        File.WriteAllText("/proc/sys/kernel/randomize_va_space", "2");
        var current = Libc.personality(Libc.PersonalityQuery);
        if (current >= 0)
        {
            Libc.personality((uint)current | Libc.ADDR_NO_RANDOMIZE);
        }
    }

    /// <summary>In a helper, just before execve: the workload is randomized as usual.</summary>
    public static void RandomizeWorkload()
    {
        var current = Libc.personality(Libc.PersonalityQuery);
        if (current >= 0 && ((uint)current & Libc.ADDR_NO_RANDOMIZE) != 0)
        {
            Moat.Linux.ErrnoException.Check(Libc.personality((uint)current & ~Libc.ADDR_NO_RANDOMIZE), "personality");
        }
    }
}
