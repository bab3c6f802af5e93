using Moat.Hypervisor;

namespace Moat.Runtime.Tests;

/// <summary>What makes two VMs share a template, and what keeps them apart.</summary>
public sealed class VmTemplateKeyTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("moat-template-key-");

    public void Dispose() => _dir.Delete(recursive: true);

    private VmConfig Config(string id)
    {
        foreach (var f in new[] { "qemu", "vmlinux", "initrd.img" })
        {
            var path = Path.Combine(_dir.FullName, f);
            if (!File.Exists(path))
            {
                File.WriteAllText(path, f);
            }
        }
        return new VmConfig
        {
            QemuBinary = Path.Combine(_dir.FullName, "qemu"),
            Accelerator = Accel.Tcg,
            KernelPath = Path.Combine(_dir.FullName, "vmlinux"),
            InitrdPath = Path.Combine(_dir.FullName, "initrd.img"),
            KernelCommandLine = "quiet",
            QmpSocket = $"@moat/{id}/qmp",
            AgentSocket = $"@moat/{id}/agent",
            Shares = [new SharedDirectory("moatshare", $"/run/moat/{id}/shared", ReadOnly: false)],
            Name = "moat-" + id,
            Nics = [new NicConfig(10, "0a:58:0a:58:00:" + id[^2..])],
        };
    }

    [Fact]
    public void VmsThatDifferOnlyInTheirOwnPathsNamesAndMacsShareAKey()
    {
        Assert.Equal(VmTemplates.Key(Config("aa")), VmTemplates.Key(Config("bb") with { PidFile = "/run/x.pid" }));
    }

    [Fact]
    public void ShapeAndBootFilesMakeADifferentKey()
    {
        var key = VmTemplates.Key(Config("aa"));
        Assert.NotEqual(key, VmTemplates.Key(Config("aa") with { MemoryMiB = 1024 }));
        Assert.NotEqual(key, VmTemplates.Key(Config("aa") with { Vcpus = 2 }));
        Assert.NotEqual(key, VmTemplates.Key(Config("aa") with { KernelCommandLine = "quiet moat.debug" }));
        Assert.NotEqual(key, VmTemplates.Key(Config("aa") with { Nics = [] }));

        // A rebuilt initrd at the same path is another guest.
        File.AppendAllText(Path.Combine(_dir.FullName, "initrd.img"), "more");
        Assert.NotEqual(key, VmTemplates.Key(Config("aa")));
    }

    [Fact]
    public void PlaceholderMacsAreLocallyAdministeredAndPerNic()
    {
        Assert.Equal("02:6d:6f:61:74:00", VmTemplates.PlaceholderMac(0));
        Assert.Equal("02:6d:6f:61:74:0a", VmTemplates.PlaceholderMac(10));
    }
}
