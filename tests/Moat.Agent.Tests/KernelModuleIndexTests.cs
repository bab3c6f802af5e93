using Moat.Linux;

namespace Moat.Agent.Tests;

/// <summary>What the guest's modprobe resolves a request_module name to.</summary>
public sealed class KernelModuleIndexTests
{
    private const string Dep = """
        kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
        kernel/net/802/stp.ko: kernel/net/llc/llc.ko
        kernel/net/llc/llc.ko:
        kernel/drivers/net/dummy.ko:
        kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko
        kernel/lib/libcrc32c.ko:
        """;

    private const string Alias = """
        # Aliases extracted from modules themselves.
        alias rtnl-link-dummy dummy
        alias fs-xfs xfs
        alias net-pf-7 bluetooth
        alias pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_blk
        alias char-major-10-[0-9]* misc_thing
        """;

    private static readonly KernelModuleIndex Index = KernelModuleIndex.Parse(Dep, Alias, "kernel/fs/ext4/ext4.ko\n");

    [Fact]
    public void ANameResolvesToItselfAndItsDependenciesComeFirst()
    {
        Assert.Equal(["bridge"], Index.Lookup("bridge"));
        Assert.Equal(["kernel/net/llc/llc.ko", "kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko"], Index.LoadOrder(["bridge"]));
    }

    [Theory]
    [InlineData("rtnl-link-dummy", "dummy")]
    [InlineData("fs-xfs", "xfs")]
    [InlineData("pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00", "virtio_blk")]
    [InlineData("char-major-10-42", "misc_thing")]
    public void AnAliasTheKernelAsksForResolvesThroughModulesAlias(string alias, string module) =>
        Assert.Equal([module], Index.Lookup(alias));

    [Fact]
    public void BuiltinsNeedNothingAndUnknownsAreNothing()
    {
        Assert.True(Index.IsBuiltin("ext4"));
        Assert.Equal(["ext4"], Index.Lookup("ext4"));
        Assert.Empty(Index.Lookup("no_such_module"));
        Assert.Empty(Index.Lookup("char-major-10-x"));
        Assert.Throws<KeyNotFoundException>(() => Index.LoadOrder(["bluetooth"])); // aliased, but not in this kernel's modules.dep
    }

    [Theory]
    [InlineData("abc", "a*", true)]
    [InlineData("abc", "a?c", true)]
    [InlineData("abc", "a[a-c]c", true)]
    [InlineData("abc", "a[!b]c", false)]
    [InlineData("abc", "*", true)]
    [InlineData("", "*", true)]
    [InlineData("abc", "ab", false)]
    [InlineData("abc", "a[bc", false)]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "a*a*a*a*a*a*a*a*a*a*a*c", false)]
    public void GlobMatchesAsFnmatch(string text, string pattern, bool expected) =>
        Assert.Equal(expected, KernelModuleIndex.Glob.IsMatch(text, pattern));
}
