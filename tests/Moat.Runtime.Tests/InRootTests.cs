using Moat.Linux;
using Xunit;

namespace Moat.Runtime.Tests;

/// <summary>Paths inside a rootfs, resolved by the real kernel (openat2) in a temporary tree.</summary>
public sealed class InRootTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("moat-inroot-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("moat-outside-").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    private static string Where(SafeFd fd) => new FileInfo(InRoot.ProcPath(fd)).LinkTarget!;

    [Fact]
    public void ExistingPathResolvesToItself()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "etc/hosts"), "");
        using var root = InRoot.OpenRoot(_root);
        using var fd = InRoot.TryOpen(root, "/etc/hosts");
        Assert.Equal(Path.Combine(_root, "etc/hosts"), Where(fd!));
        Assert.Null(InRoot.TryOpen(root, "/etc/missing"));
    }

    [Fact]
    public void MissingDirectoriesAndFileAreCreated()
    {
        using var root = InRoot.OpenRoot(_root);
        using (var dir = InRoot.OpenOrCreate(root, "/a/b/c", directory: true))
        {
            Assert.True(Directory.Exists(Path.Combine(_root, "a/b/c")));
        }
        using var file = InRoot.OpenOrCreate(root, "/x/y/file", directory: false);
        Assert.True(File.Exists(Path.Combine(_root, "x/y/file")));
        Assert.Equal(Path.Combine(_root, "x/y/file"), Where(file));
    }

    [Fact]
    public void SymlinksAndDotDotStayInsideTheRoot()
    {
        // An absolute link to the outside and a relative one climbing above the root both land inside it.
        File.CreateSymbolicLink(Path.Combine(_root, "abs"), _outside);
        File.CreateSymbolicLink(Path.Combine(_root, "up"), "../../../../..");
        using var root = InRoot.OpenRoot(_root);
        using (var a = InRoot.OpenOrCreate(root, "/abs/planted", directory: false))
        {
            Assert.StartsWith(_root + "/", Where(a));
        }
        using (var b = InRoot.OpenOrCreate(root, "/up/../../etc/planted", directory: false))
        {
            Assert.Equal(Path.Combine(_root, "etc/planted"), Where(b));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(_outside));
    }

    [Fact]
    public void DanglingSymlinkIsFollowedAndItsTargetCreatedInside()
    {
        // As in images whose /etc/resolv.conf points into /run: the bind mount target is created where the link points.
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.CreateSymbolicLink(Path.Combine(_root, "etc/resolv.conf"), "../run/resolve/stub.conf");
        File.CreateSymbolicLink(Path.Combine(_root, "etc/abs.conf"), _outside + "/abs.conf");
        using var root = InRoot.OpenRoot(_root);
        using (var fd = InRoot.OpenOrCreate(root, "/etc/resolv.conf", directory: false))
        {
            Assert.Equal(Path.Combine(_root, "run/resolve/stub.conf"), Where(fd));
        }
        using (var fd = InRoot.OpenOrCreate(root, "/etc/abs.conf", directory: false))
        {
            Assert.Equal(_root + _outside + "/abs.conf", Where(fd));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(_outside));
    }

    [Fact]
    public void SymlinkLoopIsAnErrorNamingThePath()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "loop1"), "loop2/x");
        File.CreateSymbolicLink(Path.Combine(_root, "loop2"), "loop1/y");
        using var root = InRoot.OpenRoot(_root);
        var e = Assert.ThrowsAny<IOException>(() => InRoot.OpenOrCreate(root, "/loop1/z", directory: false));
        Assert.Contains("loop", e.Message);
    }
}
