using Moat.Tests.Shared;
using System.Text.Json;
using Moat.Node.Deploy;

namespace Moat.Integration.Tests;

/// <summary>
/// Every YAML in deploy/ against the Kubernetes API's OpenAPI schemas (kubernetes-models from
/// npm, deploy/schema-check): there is no API server here. The schemas check types, required
/// fields and enums; they allow unknown fields, which only an API server's strict validation
/// would refuse. Then what the manifests must agree on with the code: the label, the installer's
/// paths and image.
/// </summary>
public sealed class DeployManifestTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-schema-").FullName;

    private static string Repo => TestHost.RepoRoot;

    public async Task InitializeAsync()
    {
        foreach (var f in new[] { "package.json", "package-lock.json", "validate.mjs" })
        {
            File.Copy(Path.Combine(Repo, "deploy/schema-check", f), Path.Combine(_dir, f));
        }
        var r = await Cmd.RunAsync("npm", ["ci", "--prefix", _dir, "--no-audit", "--no-fund"], timeout: TimeSpan.FromMinutes(5));
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private Task<CmdResult> ValidateAsync(params string[] files) => Cmd.RunAsync("node", [Path.Combine(_dir, "validate.mjs"), .. files]);

    [Fact]
    public async Task EveryManifestMatchesItsSchemaAndAgreesWithTheInstaller()
    {
        var files = Directory.GetFiles(Path.Combine(Repo, "deploy"), "*.yaml");
        var r = await ValidateAsync(files);
        Assert.True(r.ExitCode == 0, r.ToString());
        var docs = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(files.Length, docs.Select(d => d.GetProperty("file").GetString()).Distinct().Count()); // no file without a document

        var runtimeClass = docs.Single(d => d.GetProperty("kind").GetString() == "RuntimeClass");
        Assert.Equal(DeployLayout.Ready, runtimeClass.GetProperty("scheduling").GetProperty("nodeSelector").GetProperty(DeployLayout.LabelKey).GetString());

        var daemonSets = docs.Where(d => d.GetProperty("kind").GetString() == "DaemonSet").ToDictionary(d => d.GetProperty("metadata").GetProperty("name").GetString()!);
        foreach (var (name, verb) in new[] { ("moat-deploy", "install"), ("moat-cleanup", "uninstall") })
        {
            var container = daemonSets[name].GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
            Assert.Equal(InstallerImage.DefaultReference, container.GetProperty("image").GetString());
            var command = container.GetProperty("command").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Equal([$"{InstallerImage.Artifacts}/bin/moat", "deploy", verb, "--host-root", "/host", "--wait"], command);
            Assert.True(daemonSets[name].GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("hostPID").GetBoolean());
        }
    }

    [Fact]
    public async Task AWrongTypeIsCaught()
    {
        var bad = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(bad, File.ReadAllText(Path.Combine(Repo, "deploy/moat-deploy.yaml")).Replace("privileged: true", "privileged: \"yes\"", StringComparison.Ordinal));
        var r = await ValidateAsync(bad);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("privileged must be boolean", r.Stderr);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}
