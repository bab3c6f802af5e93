namespace Moat.ImageBuilder.Tests;

public sealed class ModuleResolverTests
{
    /// <summary>The fake kernel's modules.dep plus hid-generic, which the tests below ask for by both spellings.</summary>
    private const string ModulesDep = FakeDebian.ModulesDep + "\nkernel/drivers/hid/hid-generic.ko: kernel/drivers/hid/hid.ko\n";

    private static readonly Dictionary<string, string[]> Deps = ModulesDep
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public void Every_module_comes_after_all_its_dependencies_and_appears_once()
    {
        var order = ModuleResolver.Resolve(ModulesDep, GuestBuildOptions.DefaultModules, "6.1.0-56-amd64");

        Assert.Equal(order.Count, order.Distinct().Count());
        foreach (var (module, index) in order.Select((m, i) => (m, i)))
        {
            foreach (var dep in Deps[module])
            {
                var depIndex = order.ToList().IndexOf(dep);
                Assert.True(depIndex >= 0 && depIndex < index, $"{dep} must be loaded before {module}");
            }
        }

        Assert.Contains("kernel/fs/overlayfs/overlay.ko", order);
        Assert.DoesNotContain("kernel/drivers/hid/hid.ko", order);
        Assert.Single(order, m => m == "kernel/drivers/virtio/virtio_ring.ko");
    }

    [Fact]
    public void Last_listed_dependency_is_loaded_first_like_modprobe()
    {
        var order = ModuleResolver.Resolve(ModulesDep, ["virtio_net"]);

        Assert.Equal(
            [
                "kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio.ko",
                "kernel/net/core/failover.ko",
                "kernel/drivers/net/net_failover.ko",
                "kernel/drivers/net/virtio_net.ko",
            ],
            order);
    }

    [Fact]
    public void Dependencies_of_dependencies_are_ordered_by_their_own_lines()
    {
        // 9p's line lists 9pnet, fscache, netfs; fscache itself needs netfs.
        var order = ModuleResolver.Resolve(ModulesDep, ["9p"]).ToList();

        Assert.True(order.IndexOf("kernel/fs/netfs/netfs.ko") < order.IndexOf("kernel/fs/fscache/fscache.ko"));
        Assert.Equal("kernel/fs/9p/9p.ko", order[^1]);
        Assert.Equal(4, order.Count);
    }

    [Theory]
    [InlineData("hid_generic")]
    [InlineData("hid-generic")]
    [InlineData("virtio-pci")]
    public void Dash_and_underscore_are_the_same(string name)
    {
        var order = ModuleResolver.Resolve(ModulesDep, [name]);

        Assert.EndsWith(name.Replace('-', '_') switch
        {
            "hid_generic" => "hid-generic.ko",
            _ => "virtio_pci.ko",
        }, order[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_module_names_the_module_and_the_kernel()
    {
        var e = Assert.Throws<GuestImageException>(() => ModuleResolver.Resolve(ModulesDep, ["virtio_pci", "nosuchmod"], "6.1.0-56-amd64"));

        Assert.Equal("kernel module 'nosuchmod' not found in modules.dep of 6.1.0-56-amd64", e.Message);
    }

    [Fact]
    public void Same_module_twice_is_listed_once()
    {
        var order = ModuleResolver.Resolve(ModulesDep, ["virtio_blk", "virtio-blk", "virtio_console"]);

        Assert.Equal(4, order.Count);
    }
}
