using System.Text.Json;
using Moat.Linux;
using Moat.Oci;

namespace Moat.Agent.Tests;

/// <summary>linux.seccomp → libseccomp calls, against a recording fake (and once against the real library).</summary>
public sealed class SeccompProfileTests
{
    private static LinuxSeccomp Profile(string json) => JsonSerializer.Deserialize(json, OciJsonContext.Default.LinuxSeccomp)!;

    private static RecordingSeccompFilter Build(string json)
    {
        RecordingSeccompFilter? filter = null;
        var built = SeccompProfile.Build(Profile(json), action => filter = new RecordingSeccompFilter(action));
        Assert.Same(filter, built);
        return filter!;
    }

    [Fact]
    public void Default_action_architectures_and_flags_come_first_and_libseccomp_sets_no_NO_NEW_PRIVS()
    {
        var f = Build("""
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
              "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" }]
            }
            """);

        Assert.Equal(
        [
            "init 0x00050001", // ERRNO with no errnoRet: EPERM
            "arch x86_64", "arch x86", "arch x32",
            "attr 4=1", "attr 6=1", "attr 7=1", // TSYNC, LOG, SSB
            "attr 3=0", // CTL_NNP off: noNewPrivileges decides, not libseccomp
            "rule 0x7fff0000 0 []", "rule 0x7fff0000 1 []",
        ], f.Calls);
        Assert.False(f.Disposed);
    }

    [Theory]
    [InlineData("SCMP_ACT_KILL", null, 0x00000000u)] // runc: KILL is KILL_THREAD
    [InlineData("SCMP_ACT_KILL_THREAD", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u)]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u)]
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u)]
    [InlineData("SCMP_ACT_TRACE", null, 0x7ff00001u)]
    [InlineData("SCMP_ACT_TRACE", 7u, 0x7ff00007u)]
    [InlineData("SCMP_ACT_ALLOW", null, 0x7fff0000u)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u)]
    public void Each_action_maps_as_runc_maps_it(string action, uint? errnoRet, uint expected)
    {
        var errno = errnoRet is null ? "" : $", \"errnoRet\": {errnoRet}";
        var asDefault = Build($$"""{ "defaultAction": "{{action}}"{{(errnoRet is null ? "" : $", \"defaultErrnoRet\": {errnoRet}")}} }""");
        Assert.Equal($"init 0x{expected:x8}", asDefault.Calls[0]);

        var asRule = Build($$"""{ "defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{ "names": ["mount"], "action": "{{action}}"{{errno}} }] }""");
        if (expected == 0x80000000u)
        {
            Assert.Empty(asRule.Rules); // same as the default: redundant
        }
        else
        {
            Assert.Equal([$"rule 0x{expected:x8} 165 []"], asRule.Rules);
        }
    }

    [Fact]
    public void Unknown_syscall_names_are_skipped_and_rules_equal_to_the_default_are_dropped()
    {
        var f = Build("""
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [
                { "names": ["sethostname", "no_such_call_yet", "mount"], "action": "SCMP_ACT_ERRNO" },
                { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
                { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
              ]
            }
            """);

        Assert.Equal(["rule 0x00050001 170 []", "rule 0x00050001 165 []", "rule 0x00050026 41 []"], f.Rules);
    }

    [Fact]
    public void Argument_filters_map_every_operator_and_masked_eq_takes_value_as_the_mask()
    {
        var f = Build("""
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "syscalls": [
                { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
                { "names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] },
                { "names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                  { "index": 0, "value": 16, "op": "SCMP_CMP_NE" }, { "index": 1, "value": 1, "op": "SCMP_CMP_LT" },
                  { "index": 2, "value": 2, "op": "SCMP_CMP_LE" }, { "index": 3, "value": 3, "op": "SCMP_CMP_GE" },
                  { "index": 4, "value": 4, "op": "SCMP_CMP_GT" }, { "index": 5, "value": 255, "valueTwo": 5, "op": "SCMP_CMP_MASKED_EQ" }] }
              ]
            }
            """);

        Assert.Equal(
        [
            "rule 0x7fff0000 135 [a0 op4 0x8 0x0]",
            "rule 0x7fff0000 56 [a0 op7 0x7e020000 0x0]",
            "rule 0x7fff0000 41 [a0 op1 0x10 0x0; a1 op2 0x1 0x0; a2 op3 0x2 0x0; a3 op5 0x3 0x0; a4 op6 0x4 0x0; a5 op7 0xff 0x5]",
        ], f.Rules);
    }

    [Fact]
    public void Conditions_on_one_argument_twice_become_one_rule_each()
    {
        // Docker's profile allows personality(0), personality(8), ...: one rule with both would need arg0 == 0 && arg0 == 8.
        var f = Build("""
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }, { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] }]
            }
            """);

        Assert.Equal(["rule 0x7fff0000 135 [a0 op4 0x0 0x0]", "rule 0x7fff0000 135 [a0 op4 0x8 0x0]"], f.Rules);
    }

    [Fact]
    public void Long_profiles_ask_for_the_binary_tree_short_ones_do_not()
    {
        var rules = string.Join(", ", Enumerable.Range(0, 33).Select(_ => """{ "names": ["read"], "action": "SCMP_ACT_ALLOW" }"""));
        Assert.Contains("attr 8=2", Build($$"""{ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{rules}}] }""").Calls);
        Assert.DoesNotContain("attr 8=2", Build("""{ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW" }] }""").Calls);
    }

    [Theory]
    [InlineData("""{ "defaultAction": "SCMP_ACT_NOTIFY" }""", "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY (it needs a seccomp notify listener) is not supported by Moat")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ERRNO" }, { "names": ["mount"], "action": "SCMP_ACT_NOTIFY" }] }""",
        "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY (it needs a seccomp notify listener) is not supported by Moat")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/seccomp-agent.sock" }""", "linux.seccomp.listenerPath: a seccomp notify listener is not supported by Moat")]
    public void Notify_is_refused_naming_the_field(string json, string message)
    {
        RecordingSeccompFilter? filter = null;
        var e = Assert.Throws<NotSupportedException>(() => SeccompProfile.Build(Profile(json), a => filter = new RecordingSeccompFilter(a)));

        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(filter is null || filter.Disposed);
    }

    [Fact]
    public void An_unknown_architecture_names_the_field_and_the_filter_is_released()
    {
        RecordingSeccompFilter? filter = null;
        var e = Assert.Throws<InvalidDataException>(() => SeccompProfile.Build(
            Profile("""{ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"] }"""), a => filter = new RecordingSeccompFilter(a)));

        Assert.Equal("linux.seccomp.architectures[1]: libseccomp does not know architecture \"SCMP_ARCH_Z80\"", e.Message);
        Assert.True(filter!.Disposed);
    }

    /// <summary>The real libseccomp of this host (the library the initrd gets) compiles what the translation asks for.</summary>
    [Fact]
    public void Real_libseccomp_compiles_the_rules()
    {
        using var filter = (SeccompFilter)SeccompProfile.Build(Profile("""
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "syscalls": [
                { "names": ["sethostname"], "action": "SCMP_ACT_ERRNO" },
                { "names": ["no_such_call_yet"], "action": "SCMP_ACT_KILL" },
                { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{ "index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ" }] }
              ]
            }
            """), SeccompFilter.Create);

        var pfc = filter.ExportPfc();

        Assert.Contains("filter for arch x86_64", pfc, StringComparison.Ordinal);
        Assert.Contains("filter for arch x86 ", pfc, StringComparison.Ordinal);
        Assert.Contains("filter for arch x32", pfc, StringComparison.Ordinal);
        Assert.Contains("\"sethostname\" (170)", pfc, StringComparison.Ordinal);
        Assert.Contains("action ERRNO(1);", pfc, StringComparison.Ordinal);
        Assert.Contains("\"sethostname\" (74)", pfc, StringComparison.Ordinal); // the same rule for i386's numbers
        Assert.Contains("\"personality\" (135)", pfc, StringComparison.Ordinal);
        Assert.Contains("if ($a0.lo32 & 0x000000ff == 8)", pfc, StringComparison.Ordinal); // value is the mask, valueTwo the value
        Assert.Contains("action ERRNO(22);", pfc, StringComparison.Ordinal);
        Assert.Contains("action ALLOW;", pfc, StringComparison.Ordinal);
        Assert.DoesNotContain("no_such_call_yet", pfc, StringComparison.Ordinal);

        // The program the helper hands seccomp(2) itself: generated once, before the start path.
        Assert.Equal(0, filter.Instructions);
        filter.Compile();
        var instructions = filter.Instructions;
        Assert.InRange(instructions, 10, 4096); // BPF_MAXINSNS
        filter.Compile();
        Assert.Equal(instructions, filter.Instructions);
    }
}
