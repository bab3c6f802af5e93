using System.Text.Json;
using static Moat.Oci.Tests.TestConfig;

namespace Moat.Oci.Tests;

public class SpecLoaderTests
{
    private static OciConfigException ParseFails(string json, string source = "config.json")
    {
        var ex = Assert.Throws<OciConfigException>(() => SpecLoader.Parse(json, source));
        SchemaExampleTests.AssertOneLine(ex.Message);
        return ex;
    }

    [Fact]
    public void Base_config_parses()
    {
        var spec = SpecLoader.Parse(BaseJson);

        Assert.Equal("1.1.0", spec.OciVersion);
        Assert.Equal("rootfs", spec.Root!.Path);
        Assert.Equal(["sh"], spec.Process!.Args!);
        Assert.Equal(5, spec.Linux!.Namespaces!.Count);
        Assert.True(SpecValidator.Validate(spec).IsRunnable);
    }

    [Fact]
    public void Empty_args_message()
    {
        var ex = ParseFails(With(("process.args", "[]")));
        Assert.Equal("config.json: process.args: must contain at least one element", ex.Message);
        Assert.Equal("process.args", ex.FieldPath);
        Assert.Equal("config.json", ex.FileName);
    }

    [Fact]
    public void Unknown_namespace_message_names_index_and_value()
    {
        var ex = ParseFails(With(("linux.namespaces.2.type", "\"foo\"")));
        Assert.Equal("config.json: linux.namespaces[2].type: unknown namespace type \"foo\"", ex.Message);
    }

    [Fact]
    public void Multiple_errors_are_counted_on_one_line()
    {
        var ex = ParseFails(With(
            ("process.cwd", "\"tmp\""),
            ("process.env", "[\"FOO\"]"),
            ("mounts", "[{\"destination\": \"proc\", \"type\": \"proc\"}]")));

        // mounts are validated before process, so the mount error comes first.
        Assert.Equal("config.json: mounts[0].destination: must be an absolute path, got \"proc\" (and 2 more errors)", ex.Message);
        Assert.Equal(3, ex.Issues.Count);
    }

    [Fact]
    public void Values_with_newlines_stay_on_one_line()
    {
        var ex = ParseFails(With(("process.cwd", "\"tmp\\nrm -rf /\"")));
        Assert.Equal("config.json: process.cwd: must be an absolute path, got \"tmp\\nrm -rf /\"", ex.Message);
    }

    [Fact]
    public void Invalid_json_reports_line_and_position()
    {
        const string json = "{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": }\n}";
        var ex = ParseFails(json);
        Assert.StartsWith("config.json: invalid JSON at line 3, position 20: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Path:", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"ociVersion\": \"1.0.0\",}")]
    [InlineData("{\"ociVersion\": \"1.0.0\"} trailing")]
    [InlineData("// comment\n{}")]
    public void Malformed_json_is_reported_as_such(string json)
    {
        var ex = ParseFails(json);
        Assert.StartsWith("config.json: invalid JSON", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]", "config.json: expected a JSON object at the top level, got an array")]
    [InlineData("null", "config.json: expected a JSON object at the top level, got null")]
    [InlineData("\"x\"", "config.json: expected a JSON object at the top level, got \"x\"")]
    public void Top_level_must_be_an_object(string json, string expected)
    {
        Assert.Equal(expected, ParseFails(json).Message);
    }

    [Theory]
    [InlineData("process.user.uid", "-1", "process.user.uid: expected an unsigned 32-bit integer, got -1")]
    [InlineData("process.user.gid", "4294967296", "process.user.gid: expected an unsigned 32-bit integer, got 4294967296")]
    [InlineData("process.args", "\"sh\"", "process.args: expected an array, got \"sh\"")]
    [InlineData("process.args", "[\"sh\", 1]", "process.args[1]: expected a string, got 1")]
    [InlineData("process.terminal", "\"yes\"", "process.terminal: expected true or false, got \"yes\"")]
    [InlineData("process.oomScoreAdj", "1.5", "process.oomScoreAdj: expected a 32-bit integer, got 1.5")]
    [InlineData("linux.resources.memory.limit", "\"1G\"", "linux.resources.memory.limit: expected a 64-bit integer, got \"1G\"")]
    [InlineData("linux.resources.cpu.shares", "-5", "linux.resources.cpu.shares: expected an unsigned 64-bit integer, got -5")]
    [InlineData("linux.resources.blockIO.weight", "70000", "linux.resources.blockIO.weight: expected an unsigned 16-bit integer, got 70000")]
    [InlineData("linux.sysctl", "{\"net.ipv4.ip_forward\": 1}", "linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string, got 1")]
    [InlineData("annotations", "[]", "annotations: expected an object, got an array")]
    [InlineData("root", "\"rootfs\"", "root: expected an object, got \"rootfs\"")]
    public void Json_type_errors_name_field_and_value(string path, string raw, string expected)
    {
        var ex = ParseFails(With((path, raw)));
        Assert.StartsWith("config.json: " + expected + " (line ", ex.Message, StringComparison.Ordinal);
        Assert.Matches(@"\(line \d+\)$", ex.Message);
    }

    [Fact]
    public void Null_for_non_nullable_field_is_rejected()
    {
        var ex = ParseFails(With(("process.cwd", "null")));
        Assert.StartsWith("config.json: process.cwd: must not be null", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_for_optional_field_means_absent()
    {
        var spec = SpecLoader.Parse(With(("hostname", "null"), ("vm", "null"), ("process.env", "null")));
        Assert.Null(spec.Hostname);
        Assert.Null(spec.Process!.Env);
        Assert.True(SpecValidator.Validate(spec).IsRunnable);
    }

    [Fact]
    public void Missing_required_number_is_named()
    {
        var ex = ParseFails(With(("process.rlimits", "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1024}]")));
        Assert.StartsWith("config.json: process.rlimits[0].hard: is required", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_missing_required_numbers_are_listed()
    {
        var ex = ParseFails(With(("process.rlimits", "[{\"type\": \"RLIMIT_NOFILE\"}]")));
        Assert.StartsWith("config.json: process.rlimits[0]: missing required fields \"soft\", \"hard\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_string_is_named()
    {
        var ex = ParseFails(With(("process.cwd", "<delete>")));
        Assert.Equal("config.json: process.cwd: is required", ex.Message);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        var spec = SpecLoader.Parse(With(
            ("futureTopLevel", "{\"a\": [1, 2, {\"b\": null}]}"),
            ("process.futureField", "\"x\""),
            ("linux.resources.oomScoreAdj", "100"),
            ("linux.namespaces.0.extra", "true"),
            ("root.extra", "42")));

        Assert.Equal("/", spec.Process!.Cwd);
        Assert.True(SpecValidator.Validate(spec).IsRunnable);
    }

    [Fact]
    public void Field_names_are_case_sensitive_like_the_spec()
    {
        // "Cwd" is an unknown field (ignored), so the real cwd is missing.
        var ex = ParseFails(With(("process.cwd", "<delete>"), ("process.Cwd", "\"/\"")));
        Assert.Equal("config.json: process.cwd: is required", ex.Message);
    }

    [Fact]
    public void Source_name_is_used_in_messages()
    {
        var ex = ParseFails("{]", "/run/bundle/config.json");
        Assert.StartsWith("/run/bundle/config.json: invalid JSON at line 1, position 2", ex.Message, StringComparison.Ordinal);
        Assert.Equal("/run/bundle/config.json", ex.FileName);
    }

    [Fact]
    public void Parse_accepts_unsupported_features_and_leaves_them_to_the_caller()
    {
        var spec = SpecLoader.Parse(With(("linux.namespaces.5", "{\"type\": \"user\"}")));
        var result = SpecValidator.Validate(spec);
        Assert.True(result.IsValid);
        Assert.False(result.IsRunnable);
    }

    [Fact]
    public void Round_trip_preserves_everything_modelled()
    {
        var original = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "SchemaExamples/config/good/spec-example.json"));
        var spec = SpecLoader.Parse(original);

        var json1 = JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec);
        var json2 = JsonSerializer.Serialize(SpecLoader.Parse(json1), OciJsonContext.Default.Spec);

        Assert.Equal(json1, json2);
        Assert.DoesNotContain("null", json1, StringComparison.Ordinal);
        foreach (var name in new[] { "\"ociVersion\"", "\"kernelTCP\"", "\"disableOOMKiller\"", "\"throttleWriteIOPSDevice\"", "\"classID\"", "\"additionalGids\"", "\"noNewPrivileges\"", "\"createRuntime\"", "\"timeOffsets\"", "\"containerID\"", "\"hostID\"" })
        {
            Assert.Contains(name, json1, StringComparison.Ordinal);
        }

        // Semantically equal to the original, minus the one unknown field it contains (resources.oomScoreAdj).
        var expected = System.Text.Json.Nodes.JsonNode.Parse(original)!;
        expected["linux"]!["resources"]!.AsObject().Remove("oomScoreAdj");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(expected, System.Text.Json.Nodes.JsonNode.Parse(json1)), json1);
    }

    [Fact]
    public void Round_trip_of_programmatic_spec_omits_defaults()
    {
        var spec = new Spec
        {
            OciVersion = Spec.CurrentVersion,
            Root = new Root { Path = "rootfs" },
            Process = new Process { Cwd = "/", Args = ["true"] },
            Linux = new Linux
            {
                Resources = new LinuxResources { Memory = new LinuxMemory { Limit = 1L << 30 }, Cpu = new LinuxCpu { Quota = -1, Shares = 2 } },
                Seccomp = new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Syscalls = [new LinuxSyscall { Names = ["ptrace"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 1, Args = [new LinuxSeccompArg { Index = 0, Value = 1, Op = "SCMP_CMP_EQ" }] }] },
            },
        };

        var json = JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec);
        Assert.DoesNotContain("terminal", json, StringComparison.Ordinal);
        Assert.DoesNotContain("readonly", json, StringComparison.Ordinal);
        Assert.Contains("\"uid\": 0", json, StringComparison.Ordinal);

        var back = SpecLoader.Parse(json);
        Assert.Equal(1L << 30, back.Linux!.Resources!.Memory!.Limit);
        Assert.Equal(-1L, back.Linux.Resources.Cpu!.Quota);
        Assert.Equal(2UL, back.Linux.Resources.Cpu.Shares);
        Assert.Equal("SCMP_CMP_EQ", back.Linux.Seccomp!.Syscalls![0].Args![0].Op);
        Assert.Equal(json, JsonSerializer.Serialize(back, OciJsonContext.Default.Spec));
    }

    [Fact]
    public void Uint64_extremes_are_accepted()
    {
        var spec = SpecLoader.Parse(With(
            ("process.rlimits", "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 18446744073709551615, \"hard\": 18446744073709551615}]"),
            ("linux.resources.memory", "{\"limit\": 9223372036854775807, \"swap\": -1}")));

        Assert.Equal(ulong.MaxValue, spec.Process!.Rlimits![0].Hard);
        Assert.Equal(long.MaxValue, spec.Linux!.Resources!.Memory!.Limit);
    }

    [Fact]
    public void Load_bundle_reads_config_json()
    {
        var dir = Directory.CreateTempSubdirectory("moat-oci-test-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "config.json"), BaseJson);
            var spec = SpecLoader.LoadBundle(dir.FullName);
            Assert.Equal("rootfs", spec.Root!.Path);

            File.WriteAllText(Path.Combine(dir.FullName, "config.json"), With(("process.cwd", "\"rel\"")));
            var ex = Assert.Throws<OciConfigException>(() => SpecLoader.LoadBundle(dir.FullName));
            Assert.Equal($"{dir.FullName}/config.json: process.cwd: must be an absolute path, got \"rel\"", ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Load_bundle_without_config_json()
    {
        var dir = Directory.CreateTempSubdirectory("moat-oci-test-");
        try
        {
            var ex = Assert.Throws<OciConfigException>(() => SpecLoader.LoadBundle(dir.FullName));
            Assert.Equal($"bundle {dir.FullName}: config.json not found", ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Load_bundle_missing_directory()
    {
        var ex = Assert.Throws<OciConfigException>(() => SpecLoader.LoadBundle("/nonexistent/moat/bundle"));
        Assert.Equal("bundle /nonexistent/moat/bundle: no such directory", ex.Message);
        Assert.IsAssignableFrom<OciException>(ex);
    }

    // Found by fuzzing (fuzz/corpus/oci-spec/crash-*lone-surrogate*): a string escaping a lone surrogate is
    // valid to JsonDocument, but quoting it in the message called GetString, which threw InvalidOperationException.
    [Theory]
    [InlineData("\"\\uDDDD\"", "config.json: expected a JSON object at the top level, got \"\\uDDDD\"")]
    [InlineData("{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"r\"},\"process\":{\"cwd\":\"/\",\"args\":[\"a\"],\"user\":{\"uid\":\"\\uDDDD\",\"gid\":0}}}",
        "config.json: process.user.uid: expected an unsigned 32-bit integer, got \"\\uDDDD\" (line 1)")]
    public void Lone_surrogate_is_quoted_raw(string json, string message)
    {
        Assert.Equal(message, ParseFails(json).Message);
    }

    // Found by fuzzing (fuzz/corpus/oci-spec/crash-nul-in-*): a NUL in root.path or a
    // bind mount's source passed validation and made SharePlan's Path.GetFullPath throw ArgumentException.
    [Theory]
    [InlineData("root.path", "\"root\\u0000fs\"")]
    [InlineData("mounts", "[{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"a\\u0000b\",\"options\":[\"rbind\"]}]")]
    [InlineData("mounts", "[{\"destination\":\"/d\\u0000e\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]")]
    [InlineData("process.args", "[\"sh\\u0000\"]")]
    public void Nul_in_a_path_or_argument_is_an_error(string path, string rawJson)
    {
        var ex = ParseFails(With((path, rawJson)));
        Assert.Contains("must not contain NUL characters", ex.Message, StringComparison.Ordinal);
    }
}
