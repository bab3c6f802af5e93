using Moat.Runtime;

namespace Moat.Node.Tests;

public sealed class PodmanInstallerTests
{
    private const string Conf = "/etc/containers/containers.conf";

    [Fact]
    public void AnEmptyFileGetsTheRuntimeAndBothListsWithTheirDefaults()
    {
        var (text, changes) = Installer.EditPodmanConfig(null, Conf, "moat", "/usr/local/bin/moat");
        Assert.Equal(
            "[engine]\n"
            + "runtime_supports_json = [\"crun\", \"runc\", \"kata\", \"runsc\", \"krun\", \"moat\"]\n"
            + "runtime_supports_kvm = [\"kata\", \"krun\", \"moat\"]\n"
            + "\n[engine.runtimes]\nmoat = [\"/usr/local/bin/moat\"]\n", text);
        Assert.Equal(3, changes.Count);
        var (twice, none) = Installer.EditPodmanConfig(text, Conf, "moat", "/usr/local/bin/moat");
        Assert.Equal(text, twice);
        Assert.Empty(none);
    }

    [Fact]
    public void ExistingSectionsAndListsAreEditedInPlaceKeepingEverythingElse()
    {
        var original = """
            # site settings
            [containers]
            log_size_max = 1000

            [engine]
            # the runtimes whose errors are JSON
            runtime_supports_json = ["crun", "runc"]  # trimmed
            cgroup_manager = "cgroupfs"

            [engine.runtimes]
            runc = ["/usr/bin/runc"]

            [network]
            network_backend = "cni"

            """;
        var (text, changes) = Installer.EditPodmanConfig(original, Conf, "moat", "/m");
        Assert.Equal("""
            # site settings
            [containers]
            log_size_max = 1000

            [engine]
            runtime_supports_kvm = ["kata", "krun", "moat"]
            # the runtimes whose errors are JSON
            runtime_supports_json = ["crun", "runc", "moat"]
            cgroup_manager = "cgroupfs"

            [engine.runtimes]
            moat = ["/m"]
            runc = ["/usr/bin/runc"]

            [network]
            network_backend = "cni"

            """, text);
        Assert.Equal(3, changes.Count);
        Assert.Equal(text, Installer.EditPodmanConfig(text, Conf, "moat", "/m").Text);
    }

    [Fact]
    public void AnEngineTableMadeOnlyByItsRuntimesSectionGetsItsOwnHeader()
    {
        var (text, _) = Installer.EditPodmanConfig("[engine.runtimes]\nrunc = [\"/usr/bin/runc\"]\n", Conf, "moat", "/m");
        Assert.Equal("[engine.runtimes]\nmoat = [\"/m\"]\nrunc = [\"/usr/bin/runc\"]\n\n[engine]\n"
            + "runtime_supports_json = [\"crun\", \"runc\", \"kata\", \"runsc\", \"krun\", \"moat\"]\n"
            + "runtime_supports_kvm = [\"kata\", \"krun\", \"moat\"]\n", text);
    }

    [Fact]
    public void ANameTakenByAnotherRuntimeIsRefused()
    {
        var e = Assert.Throws<RuntimeException>(() => Installer.EditPodmanConfig("[engine.runtimes]\nmoat = [\"/usr/bin/crun\"]\n", Conf, "moat", "/m"));
        Assert.Equal($"{Conf}: Podman runtime 'moat' already runs /usr/bin/crun: remove it from [engine.runtimes] or choose another --name", e.Message);
    }

    [Theory]
    [InlineData("[engine]\nruntime_supports_json = [\n  \"crun\",\n]\n", "runtime_supports_json spans several lines")]
    [InlineData("engine = { cgroup_manager = \"cgroupfs\" }\n", "not written as an [engine] section")]
    [InlineData("[engine\n", "is not valid TOML")]
    public void WhatCannotBeEditedSafelyIsNamed(string text, string message)
    {
        var e = Assert.Throws<RuntimeException>(() => Installer.EditPodmanConfig(text, Conf, "moat", "/m"));
        Assert.StartsWith(Conf, e.Message);
        Assert.Contains(message, e.Message);
    }
}
