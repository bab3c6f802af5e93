using System.Text.Json.Nodes;

namespace Moat.Integration.Tests;

/// <summary>Each bad input: one clear line on stderr, a non-zero exit, nothing left behind.</summary>
[Collection("vm")]
public sealed class BadInputTests
{
    private static void AssertOneLineError(CmdResult r, params string[] fragments)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr\n" + r);
        Assert.StartsWith("moat: ", lines[0]);
        foreach (var f in fragments)
        {
            Assert.Contains(f, lines[0]);
        }
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task MalformedConfigJsonNamesTheFileAndLine()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        File.WriteAllText(Path.Combine(bundle, "config.json"), "{ \"ociVersion\": \"1.1.0\",\n  \"process\": { ");
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "config.json", "line");
    }

    public static TheoryData<string> SchemaBadExamples() =>
        new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "SchemaBad"), "*.json").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(SchemaBadExamples))]
    public async Task SchemaInvalidExamplesFailBeforeAnyVmStarts(string example)
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "SchemaBad", example), Path.Combine(bundle, "config.json"), overwrite: true);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "config.json");
    }

    [Fact]
    public async Task InvalidFieldValueIsNamed()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"], cfg => cfg["process"]!["cwd"] = "relative/dir");
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "process.cwd", "relative/dir");
    }

    [Fact]
    public async Task UnsupportedFeatureSaysSo()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"], cfg =>
        {
            cfg["linux"]!["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
            cfg["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 1000, ["size"] = 1 });
            cfg["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 1000, ["size"] = 1 });
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "unsupported", "user namespace");
    }

    [Fact]
    public async Task MissingRootfs()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        Directory.Delete(Path.Combine(bundle, "rootfs"), recursive: true);
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "rootfs", "does not exist");
    }

    [Fact]
    public async Task MissingBundleAndMissingConfig()
    {
        await using var env = new MoatEnv();
        var r = await env.RunAsync(Path.Combine(env.Dir, "nope"), MoatEnv.Id());
        AssertOneLineError(r, "nope");
        var bundle = await env.BundleAsync("b", ["true"]);
        File.Delete(Path.Combine(bundle, "config.json"));
        r = await env.RunAsync(bundle, MoatEnv.Id());
        AssertOneLineError(r, "config.json", "not found");
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("x!")]
    public async Task InvalidContainerId(string id)
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var r = await env.RunAsync(bundle, id);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("id", r.Stderr);
    }

    [Fact]
    public async Task TooLongContainerId()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var r = await env.RunAsync(bundle, new string('a', 129));
        AssertOneLineError(r, "invalid container id");
    }

    [Theory]
    [InlineData("MOAT_KERNEL", "guest kernel", "moat image build")]
    [InlineData("MOAT_INITRD", "guest initrd", "moat image build")]
    [InlineData("MOAT_QEMU", "QEMU", "apt-get install qemu-system-x86")]
    public async Task MissingKernelInitrdOrQemuSaysWhichAndHowToFix(string variable, string what, string fix)
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var missing = Path.Combine(env.Dir, "missing-file");
        var vars = new Dictionary<string, string> { [variable] = missing };
        if (variable != "MOAT_QEMU")
        {
            // Point both image paths somewhere explicit so only the one under test is missing.
            var image = await Cmd.RunAsync("readlink", ["-f", "/var/lib/moat/guest/current"]);
            vars.TryAdd("MOAT_KERNEL", Path.Combine(image.Stdout.Trim(), "vmlinux"));
            vars.TryAdd("MOAT_INITRD", Path.Combine(image.Stdout.Trim(), "initrd.img"));
        }
        var r = await env.RunAsync(bundle, MoatEnv.Id(), env: vars);
        AssertOneLineError(r, what, missing, fix);
    }

    [Fact]
    public async Task MissingFirmwareSaysWhichAndHowToFix()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var cfg = Path.Combine(env.Dir, "moat.toml");
        var missing = Path.Combine(env.Dir, "missing.rom");
        File.WriteAllText(cfg, $"[hypervisor]\nfirmware = \"{missing}\"\n");
        var r = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "--config", cfg, "run", "--bundle", bundle, MoatEnv.Id()]);
        AssertOneLineError(r, "firmware", missing, "qemu-system-data");
    }

    [Fact]
    public async Task ConfigFileUnknownKeyIsNamed()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var cfg = Path.Combine(env.Dir, "moat.toml");
        File.WriteAllText(cfg, "[hypervisor]\nvcpu = 2\n");
        var r = await Cmd.RunAsync(Cmd.Moat, ["--root", env.Root, "--config", cfg, "run", "--bundle", bundle, MoatEnv.Id()]);
        AssertOneLineError(r, cfg, "hypervisor.vcpu: unknown key");
    }
}
