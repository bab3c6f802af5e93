using System.Text.Json;
using Moat.Oci;

namespace Moat.Agent.Tests;

public sealed class PrewarmTests
{
    [Fact]
    public void TheWarmUpSpecIsOneACreateAccepts()
    {
        var result = SpecValidator.Validate(Prewarm.Sample());
        Assert.Empty(result.Errors);
        Assert.Empty(result.Unsupported);
    }

    [Fact]
    public void TheWarmUpSpecCarriesWhatCallersSendAndSurvivesTheAgentsParse()
    {
        var sample = Prewarm.Sample();
        // What Docker, CRI and Podman specs carry beyond the default spec: each type's JSON code runs in the warm-up.
        Assert.NotNull(sample.Linux?.Resources?.Memory);
        Assert.NotNull(sample.Linux?.Resources?.Cpu);
        Assert.NotNull(sample.Linux?.Resources?.Pids);
        Assert.Contains(sample.Linux!.Seccomp!.Syscalls!, s => s.Args is { Count: > 0 });
        Assert.NotEmpty(sample.Linux.Sysctl!);
        Assert.NotEmpty(sample.Mounts!);
        Assert.NotEmpty(sample.Process!.Capabilities!.Bounding!);

        var json = JsonSerializer.Serialize(sample, OciJsonContext.Default.Spec);
        Assert.Equal(json, JsonSerializer.Serialize(SpecLoader.Deserialize(json), OciJsonContext.Default.Spec));
        Prewarm.Agent();
        Prewarm.Helper();
    }
}
