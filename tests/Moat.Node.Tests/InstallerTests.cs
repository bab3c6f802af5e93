using Moat.Runtime;

namespace Moat.Node.Tests;

public sealed class InstallerTests
{
    private const string Path = "/etc/containerd/config.toml";

    [Fact]
    public void ContainerdEditKeepsTheFileAndAddsTheHandler()
    {
        var original = "# keep me\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"\n";
        var (text, changes) = Installer.EditContainerdConfig(original, Path, ["moat"], untrustedWorkload: false, "/etc/moat/configuration.toml");
        Assert.StartsWith(original, text);
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.moat]\n  runtime_type = \"io.containerd.moat.v2\"\n", text);
        Assert.Contains("ConfigPath = \"/etc/moat/configuration.toml\"", text);
        Assert.Single(changes);
    }

    [Fact]
    public void ContainerdEditIsIdempotent()
    {
        var (once, _) = Installer.EditContainerdConfig(null, Path, ["moat", "kata"], untrustedWorkload: true, "/c.toml");
        var (twice, changes) = Installer.EditContainerdConfig(once, Path, ["moat", "kata"], untrustedWorkload: true, "/c.toml");
        Assert.Equal(once, twice);
        Assert.Empty(changes);
        Assert.Contains("untrusted_workload_runtime]\n  runtime_type = \"io.containerd.moat.v2\"", once);
        Assert.Contains("runtime_type = \"io.containerd.kata.v2\"", once);
    }

    [Fact]
    public void HandlerTakenByAnotherRuntimeIsRefused()
    {
        var existing = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.moat]\n  runtime_type = \"io.containerd.runc.v2\"\n";
        var e = Assert.Throws<RuntimeException>(() => Installer.EditContainerdConfig(existing, Path, ["moat"], false, "/c.toml"));
        Assert.Contains("already runs io.containerd.runc.v2", e.Message);
    }

    [Theory]
    [InlineData("version = 1\n", "is not a version 2 containerd configuration")]
    [InlineData("root = \"/x\"\n", "is not a version 2 containerd configuration")]
    [InlineData("version = [\n", "is not valid TOML")]
    public void BadContainerdConfigIsNamed(string text, string message)
    {
        var e = Assert.Throws<RuntimeException>(() => Installer.EditContainerdConfig(text, Path, ["moat"], false, "/c.toml"));
        Assert.StartsWith(Path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void DockerEditKeepsOtherKeysAndIsIdempotent()
    {
        var (once, changes) = Installer.EditDockerConfig("{\"debug\": true, \"runtimes\": {\"other\": {\"path\": \"/o\"}}}", "/d.json", "moat", "/usr/local/bin/moat");
        Assert.Single(changes);
        var doc = System.Text.Json.JsonDocument.Parse(once).RootElement;
        Assert.True(doc.GetProperty("debug").GetBoolean());
        Assert.Equal("/o", doc.GetProperty("runtimes").GetProperty("other").GetProperty("path").GetString());
        Assert.Equal("/usr/local/bin/moat", doc.GetProperty("runtimes").GetProperty("moat").GetProperty("path").GetString());
        var (twice, none) = Installer.EditDockerConfig(once, "/d.json", "moat", "/usr/local/bin/moat");
        Assert.Equal(once, twice);
        Assert.Empty(none);
    }

    [Fact]
    public void BadDaemonJsonIsNamed()
    {
        var e = Assert.Throws<RuntimeException>(() => Installer.EditDockerConfig("[1,2]", "/d.json", "moat", "/m"));
        Assert.Equal("/d.json: the top level must be a JSON object", e.Message);
        e = Assert.Throws<RuntimeException>(() => Installer.EditDockerConfig("{", "/d.json", "moat", "/m"));
        Assert.StartsWith("/d.json is not valid JSON", e.Message);
    }
}
