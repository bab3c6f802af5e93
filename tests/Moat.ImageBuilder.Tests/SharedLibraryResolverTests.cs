namespace Moat.ImageBuilder.Tests;

public sealed class SharedLibraryResolverTests
{
    private static readonly SharedLibraryResolver Resolver = new(ProcessCommandRunner.Instance);

    [Fact]
    public async Task Ls_needs_libc_and_the_loader_at_the_paths_the_loader_asks_for()
    {
        var libraries = await Resolver.ResolveAsync("/bin/ls", CancellationToken.None);

        Assert.Contains(libraries, l => l.GuestPath == "/lib64/ld-linux-x86-64.so.2");
        Assert.Contains(libraries, l => l.GuestPath == "/lib/x86_64-linux-gnu/libc.so.6");
        Assert.DoesNotContain(libraries, l => l.GuestPath.Contains("vdso", StringComparison.Ordinal));
        Assert.All(libraries, l =>
        {
            Assert.True(File.Exists(l.HostPath), l.HostPath);
            Assert.Null(new FileInfo(l.HostPath).LinkTarget); // real content, not a link
        });
    }

    [Fact]
    public async Task Static_busybox_needs_nothing()
    {
        Assert.Empty(await Resolver.ResolveAsync("/bin/busybox", CancellationToken.None));
    }

    [Fact]
    public void Parses_ldd_output()
    {
        const string Output = """
                linux-vdso.so.1 (0x00007ffc4e5f2000)
                libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f0d1c0e0000)
                libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d1bf00000)
                /lib64/ld-linux-x86-64.so.2 (0x00007f0d1c1e0000)
            """;

        var libraries = SharedLibraryResolver.Parse(Output, "agent");

        Assert.Equal(["/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"], libraries.Select(l => l.GuestPath));
    }

    [Fact]
    public void Missing_library_is_an_error()
    {
        var e = Assert.Throws<GuestImageException>(() => SharedLibraryResolver.Parse("\tlibfoo.so.1 => not found\n", "/x/agent"));

        Assert.Contains("libfoo.so.1", e.Message, StringComparison.Ordinal);
        Assert.Contains("/x/agent", e.Message, StringComparison.Ordinal);
    }
}
