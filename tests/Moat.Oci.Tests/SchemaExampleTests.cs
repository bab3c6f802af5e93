using System.Text.Json;

namespace Moat.Oci.Tests;

/// <summary>Runs the runtime-spec's own schema test data (copied into SchemaExamples/) through loader + validator.</summary>
public class SchemaExampleTests
{
    private static readonly string ExamplesDir = Path.Combine(AppContext.BaseDirectory, "SchemaExamples");

    /// <summary>
    /// "bad" examples that test something we intentionally do not model, with the reason. Currently empty: all
    /// three 1.1.0 bad configs (invalid JSON, a non-integer rdma limit, a lower-case hugepage size) are rejected.
    /// </summary>
    private static readonly Dictionary<string, string> SkippedBad = new(StringComparer.Ordinal);

    public static TheoryData<string> GoodConfigs() => Files("config/good");

    public static TheoryData<string> BadConfigs() => Files("config/bad");

    [Theory]
    [MemberData(nameof(GoodConfigs))]
    public void Good_config_loads_and_has_no_errors(string name)
    {
        var json = File.ReadAllText(Path.Combine(ExamplesDir, "config/good", name));

        var spec = SpecLoader.Parse(json, name);
        var result = SpecValidator.Validate(spec);

        Assert.True(result.Errors.Count == 0, string.Join("; ", result.Errors));
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Bad_config_is_rejected(string name)
    {
        if (SkippedBad.ContainsKey(name))
        {
            return;
        }

        var json = File.ReadAllText(Path.Combine(ExamplesDir, "config/bad", name));

        Spec spec;
        try
        {
            spec = SpecLoader.Deserialize(json, name);
        }
        catch (OciConfigException ex)
        {
            AssertOneLine(ex.Message);
            Assert.StartsWith(name + ": ", ex.Message, StringComparison.Ordinal);
            return;
        }

        Assert.NotEmpty(SpecValidator.Validate(spec).Errors);
        var thrown = Assert.Throws<OciConfigException>(() => SpecLoader.Parse(json, name));
        AssertOneLine(thrown.Message);
    }

    [Fact]
    public void Example_directories_are_present()
    {
        Assert.True(GoodConfigs().Count >= 5);
        Assert.True(BadConfigs().Count >= 3);
        Assert.True(File.Exists(Path.Combine(ExamplesDir, "LICENSE")));
    }

    [Fact]
    public void Bad_examples_give_precise_messages()
    {
        var hugepage = SpecValidator.Validate(Load("config/bad/linux-hugepage.json"));
        Assert.Equal("linux.resources.hugepageLimits[0].pageSize", Assert.Single(hugepage.Errors).Path);

        var rdma = Assert.Throws<OciConfigException>(() => Load("config/bad/linux-rdma.json"));
        Assert.Equal(
            "linux-rdma.json: linux.resources.rdma.mlx5_1.hcaHandles: expected an unsigned 32-bit integer, got \"not a uint32\" (line 10)",
            rdma.Message);

        var invalid = Assert.Throws<OciConfigException>(() => Load("config/bad/invalid-json.json"));
        Assert.StartsWith("invalid-json.json: invalid JSON at line 1, position 2: ", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Spec_example_is_parsed_completely_and_flags_what_moat_cannot_do()
    {
        var spec = Load("config/good/spec-example.json");

        Assert.Equal("0.5.0-dev", spec.OciVersion);
        Assert.True(spec.Root!.Readonly);
        Assert.Equal(7, spec.Mounts!.Count);
        Assert.Equal(["CAP_NET_BIND_SERVICE"], spec.Process!.Capabilities!.Ambient!);
        Assert.Equal(5, spec.Hooks!.Poststart![0].Timeout);
        Assert.Equal(9223372036854772000UL, spec.Linux!.Resources!.HugepageLimits![0].Limit);
        Assert.Equal(536870912L, spec.Linux.Resources.Memory!.Limit);
        Assert.Equal(-1L, spec.Linux.Resources.Memory.Kernel);
        Assert.Equal(1024UL, spec.Linux.Resources.Cpu!.Shares);
        Assert.Equal(300UL, spec.Linux.Resources.BlockIO!.ThrottleWriteIopsDevice![0].Rate);
        Assert.Equal("SCMP_ACT_ERRNO", spec.Linux.Seccomp!.Syscalls![0].Action);
        Assert.Equal(604800L, spec.Linux.TimeOffsets!["boottime"].Secs);
        Assert.Equal("value2", spec.Annotations!["com.example.key2"]);

        var result = SpecValidator.Validate(spec);
        Assert.Empty(result.Errors);
        Assert.Contains(result.Unsupported, i => i.Path == "linux.uidMappings");
        Assert.Contains(result.Unsupported, i => i.Path == "linux.timeOffsets");
        Assert.Contains(result.Unsupported, i => i.Message == SpecValidator.UserNamespaceMessage && i.Path == "linux.namespaces[5]");
        Assert.DoesNotContain(result.Warnings, i => i.Path.StartsWith("linux.seccomp", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, i => i.Path == "process.apparmorProfile");
        Assert.Contains(result.Warnings, i => i.Path == "ociVersion");
    }

    [Fact]
    public void Zos_section_is_detected_as_unsupported()
    {
        var result = SpecValidator.Validate(Load("config/good/zos-minimal.json"));

        Assert.Empty(result.Errors);
        Assert.Equal("zos", Assert.Single(result.Unsupported).Path);
    }

    [Fact]
    public void Minimal_configs_are_runnable()
    {
        Assert.True(SpecValidator.Validate(Load("config/good/minimal.json")).IsRunnable);
        Assert.True(SpecValidator.Validate(Load("config/good/minimal-for-start.json")).IsRunnable);
        Assert.True(SpecValidator.Validate(Load("config/good/linux-rdma.json")).IsRunnable);
    }

    [Fact]
    public void State_examples()
    {
        var json = File.ReadAllText(Path.Combine(ExamplesDir, "state/good/spec-example.json"));
        var state = JsonSerializer.Deserialize(json, OciJsonContext.Default.ContainerState)!;
        Assert.Equal("oci-container1", state.Id);
        Assert.Equal(ContainerStatus.Running, state.Status);
        Assert.Equal(4422, state.Pid);
        Assert.Equal("/containers/redis", state.Bundle);
        Assert.Equal("myValue", state.Annotations!["myKey"]);

        var bad = File.ReadAllText(Path.Combine(ExamplesDir, "state/bad/invalid-json.json"));
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(bad, OciJsonContext.Default.ContainerState));
    }

    internal static void AssertOneLine(string message)
    {
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain('\r', message);
    }

    private static Spec Load(string relative)
        => SpecLoader.Deserialize(File.ReadAllText(Path.Combine(ExamplesDir, relative)), Path.GetFileName(relative));

    private static TheoryData<string> Files(string relative)
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(ExamplesDir, relative), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }
}
