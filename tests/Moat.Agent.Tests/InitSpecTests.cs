using Moat.Oci;

namespace Moat.Agent.Tests;

public sealed class InitSpecTests
{
    [Fact]
    public void An_exec_helper_gets_the_containers_seccomp_profile()
    {
        var spec = new InitSpec
        {
            Process = new Moat.Oci.Process { Args = ["hostname", "x"] },
            InitPid = 42,
            Seccomp = new LinuxSeccomp
            {
                DefaultAction = "SCMP_ACT_ALLOW",
                Syscalls = [new LinuxSyscall { Names = ["sethostname"], Action = "SCMP_ACT_ERRNO", Args = [new LinuxSeccompArg { Index = 0, Value = 255, ValueTwo = 1, Op = "SCMP_CMP_MASKED_EQ" }] }],
            },
        };

        var back = InitSpec.FromJson(spec.ToJson());

        Assert.Null(back.Spec);
        Assert.Equal(42, back.InitPid);
        var rule = Assert.Single(back.Seccomp!.Syscalls!);
        Assert.Equal(["sethostname"], rule.Names);
        Assert.Equal(1UL, rule.Args![0].ValueTwo);
    }

    [Fact]
    public void An_init_helper_without_a_profile_has_none()
    {
        var back = InitSpec.FromJson(new InitSpec { Spec = DefaultSpec.Create(), Rootfs = "/r", Process = DefaultSpec.Create().Process! }.ToJson());

        Assert.Null(back.Seccomp);
        Assert.Null(back.Spec!.Linux!.Seccomp);
    }

    [Theory]
    [InlineData("sandbox", false, true)]
    [InlineData("sandbox", true, false)] // a terminal needs a pty in the container's own devpts: run it
    [InlineData("container", false, false)]
    [InlineData(null, false, false)]
    public void OnlyAPodsSandboxContainerIsHeldAndTheHelperIsToldSo(string? type, bool terminal, bool held)
    {
        var spec = DefaultSpec.Create();
        spec.Process!.Terminal = terminal;
        if (type is not null)
        {
            spec.Annotations = new Dictionary<string, string> { [AgentService.CriContainerTypeAnnotation] = type };
        }

        Assert.Equal(held, PodHolder.Holds(spec));
        var back = InitSpec.FromJson(new InitSpec { Spec = spec, Rootfs = "/r", Process = spec.Process, Hold = PodHolder.Holds(spec) }.ToJson());
        Assert.Equal(held, back.Hold);
    }
}
