using Moat.Linux;
using Moat.Oci;
using static Moat.Linux.Interop.Libseccomp;

namespace Moat.Agent;

/// <summary>
/// Turns the spec's <c>linux.seccomp</c> into libseccomp calls, as runc does
/// (libcontainer/seccomp/seccomp_linux.go): the default action, the extra architectures, the
/// flags, no NO_NEW_PRIVS from libseccomp (the spec's <c>noNewPrivileges</c> decides that), then
/// one rule per syscall name. A name libseccomp does not know is skipped (an older kernel or
/// library has no such call); a rule whose action is the default one is redundant and skipped;
/// conditions on the same argument twice become one rule each (libseccomp would AND them).
/// </summary>
internal static class SeccompProfile
{
    private const string Field = "linux.seccomp";

    /// <summary>Past this many rules libseccomp's binary-tree layout makes the filter faster (runc's threshold).</summary>
    private const int BinaryTreeThreshold = 32;

    /// <summary>SCMP_FLTATR_CTL_OPTIMIZE level of the binary tree.</summary>
    private const uint OptimizeBinaryTree = 2;

    /// <summary>errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the profile gives none (runc's choice).</summary>
    private const uint EPERM = 1;

    private const int MaxArguments = 6;

    /// <summary>Builds the filter (on <paramref name="create"/>'s context) and returns it unloaded; the caller loads and disposes it.</summary>
    public static ISeccompFilter Build(LinuxSeccomp profile, Func<uint, ISeccompFilter> create)
    {
        if (!string.IsNullOrEmpty(profile.ListenerPath))
        {
            throw Unsupported($"{Field}.listenerPath", "a seccomp notify listener");
        }
        var defaultAction = Action(profile.DefaultAction, profile.DefaultErrnoRet, $"{Field}.defaultAction");
        var filter = create(defaultAction);
        try
        {
            var archs = profile.Architectures ?? [];
            for (var i = 0; i < archs.Count; i++)
            {
                var name = archs[i].StartsWith("SCMP_ARCH_", StringComparison.Ordinal) ? archs[i]["SCMP_ARCH_".Length..] : archs[i];
                if (!filter.AddArchitecture(name.ToLowerInvariant()))
                {
                    throw new InvalidDataException($"{Field}.architectures[{i}]: libseccomp does not know architecture \"{archs[i]}\"");
                }
            }
            var flags = profile.Flags ?? [];
            for (var i = 0; i < flags.Count; i++)
            {
                SetFlag(filter, flags[i], $"{Field}.flags[{i}]");
            }
            var syscalls = profile.Syscalls ?? [];
            if (syscalls.Count > BinaryTreeThreshold)
            {
                try
                {
                    filter.SetAttribute(SCMP_FLTATR_CTL_OPTIMIZE, OptimizeBinaryTree);
                }
                catch (ErrnoException)
                {
                    // an older libseccomp: the filter is only slower
                }
            }
            filter.SetAttribute(SCMP_FLTATR_CTL_NNP, 0);
            for (var i = 0; i < syscalls.Count; i++)
            {
                AddRules(filter, syscalls[i], defaultAction, $"{Field}.syscalls[{i}]");
            }
            return filter;
        }
        catch
        {
            filter.Dispose();
            throw;
        }
    }

    /// <summary>The libseccomp action of a spec action; <paramref name="errnoRet"/> goes with ERRNO and TRACE.</summary>
    internal static uint Action(string action, uint? errnoRet, string field) => action switch
    {
        // runc's mapping: SCMP_ACT_KILL kills the thread, as libseccomp's own SCMP_ACT_KILL does.
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => SCMP_ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP" => SCMP_ACT_TRAP,
        "SCMP_ACT_ERRNO" => SCMP_ACT_ERRNO(errnoRet ?? EPERM),
        "SCMP_ACT_TRACE" => SCMP_ACT_TRACE(errnoRet ?? EPERM),
        "SCMP_ACT_ALLOW" => SCMP_ACT_ALLOW,
        "SCMP_ACT_LOG" => SCMP_ACT_LOG,
        "SCMP_ACT_NOTIFY" => throw Unsupported(field, "SCMP_ACT_NOTIFY (it needs a seccomp notify listener)"),
        _ => throw new InvalidDataException($"{field}: unknown seccomp action \"{action}\""),
    };

    internal static int Operator(string op, string field) => op switch
    {
        "SCMP_CMP_NE" => SCMP_CMP_NE,
        "SCMP_CMP_LT" => SCMP_CMP_LT,
        "SCMP_CMP_LE" => SCMP_CMP_LE,
        "SCMP_CMP_EQ" => SCMP_CMP_EQ,
        "SCMP_CMP_GE" => SCMP_CMP_GE,
        "SCMP_CMP_GT" => SCMP_CMP_GT,
        "SCMP_CMP_MASKED_EQ" => SCMP_CMP_MASKED_EQ,
        _ => throw new InvalidDataException($"{field}: unknown seccomp operator \"{op}\""),
    };

    private static void SetFlag(ISeccompFilter filter, string flag, string field)
    {
        switch (flag)
        {
            case "SECCOMP_FILTER_FLAG_TSYNC":
                filter.SetAttribute(SCMP_FLTATR_CTL_TSYNC, 1);
                break;
            case "SECCOMP_FILTER_FLAG_LOG":
                filter.SetAttribute(SCMP_FLTATR_CTL_LOG, 1);
                break;
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
                filter.SetAttribute(SCMP_FLTATR_CTL_SSB, 1);
                break;
            case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
                // Only changes how a notify listener's target waits; Moat refuses listeners.
                break;
            default:
                throw new InvalidDataException($"{field}: unknown seccomp flag \"{flag}\"");
        }
    }

    private static void AddRules(ISeccompFilter filter, LinuxSyscall rule, uint defaultAction, string field)
    {
        var action = Action(rule.Action, rule.ErrnoRet, $"{field}.action");
        if (action == defaultAction)
        {
            return; // libseccomp refuses a rule that changes nothing
        }
        var args = rule.Args ?? [];
        var conditions = new scmp_arg_cmp[args.Count];
        var perArgument = new int[MaxArguments];
        for (var j = 0; j < args.Count; j++)
        {
            var a = args[j];
            if (a.Index >= MaxArguments)
            {
                throw new InvalidDataException($"{field}.args[{j}].index: must be between 0 and 5, got {a.Index}");
            }
            perArgument[a.Index]++;
            // For SCMP_CMP_MASKED_EQ "value" is the mask and "valueTwo" what the masked argument must equal.
            conditions[j] = new scmp_arg_cmp { arg = a.Index, op = Operator(a.Op, $"{field}.args[{j}].op"), datum_a = a.Value, datum_b = a.ValueTwo ?? 0 };
        }
        var separate = perArgument.Any(n => n > 1);
        foreach (var name in rule.Names)
        {
            if (filter.ResolveSyscall(name) is not { } nr)
            {
                continue; // unknown to this libseccomp: skipped, as runc does
            }
            if (separate)
            {
                // Two conditions on one argument would never both hold: runc's "old behaviour", one rule each.
                foreach (var c in conditions)
                {
                    filter.AddRule(action, nr, [c]);
                }
            }
            else
            {
                filter.AddRule(action, nr, conditions);
            }
        }
    }

    private static NotSupportedException Unsupported(string field, string what) =>
        new($"{field}: {what} is not supported by Moat: the guest has no listener to hand the calls to");
}
