using Moat.Linux;

namespace Moat.Runtime.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ALinkPlantedAtTheTargetIsReplacedNotWrittenThrough()
    {
        var victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "precious");
        var target = Path.Combine(_dir, "pid");
        File.CreateSymbolicLink(target, victim);
        AtomicFile.Write(target, "42");
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Null(new FileInfo(target).LinkTarget);
        Assert.Equal("42", File.ReadAllText(target));
        Assert.Equal(["pid", "victim"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void CreateNewRefusesADanglingLink()
    {
        var target = Path.Combine(_dir, "config.json");
        File.CreateSymbolicLink(target, Path.Combine(_dir, "elsewhere"));
        Assert.Throws<IOException>(() => AtomicFile.CreateNew(target, "{}"u8));
        Assert.False(File.Exists(Path.Combine(_dir, "elsewhere")));
    }

    [Fact]
    public void TheModeIsTheOneAskedFor()
    {
        var target = Path.Combine(_dir, "state.json");
        AtomicFile.Write(target, "{}", AtomicFile.Private);
        Assert.Equal(AtomicFile.Private, File.GetUnixFileMode(target));
    }
}
