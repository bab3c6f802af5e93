namespace Moat.ImageBuilder.Tests;

public sealed class GuestImageStoreTests
{
    [Fact]
    public void SwitchingTheCurrentImageRemovesThoseOlderThanTheOneItReplaced()
    {
        using var dir = new TempDir();
        string[] images = ["0000000000000001", "0000000000000002", "0000000000000003", "0000000000000004"];
        foreach (var image in images)
        {
            Directory.CreateDirectory(dir.Combine(image));
            File.WriteAllText(dir.Combine(image, GuestImageStore.ManifestFileName), "{}");
            Directory.SetLastWriteTimeUtc(dir.Combine(image), DateTime.UtcNow.AddHours(-2));
        }
        Directory.SetLastWriteTimeUtc(dir.Combine(images[2]), DateTime.UtcNow); // just built, switched to below
        Directory.SetLastWriteTimeUtc(dir.Combine(images[3]), DateTime.UtcNow); // a concurrent build's, about to be switched to
        Directory.CreateDirectory(dir.Combine("modules"));
        Directory.CreateDirectory(dir.Combine("00000000000000ff")); // named like one, but no manifest: not an image
        Directory.CreateDirectory(dir.Combine("kept-by-someone"));
        File.WriteAllText(dir.Combine("kept-by-someone", GuestImageStore.ManifestFileName), "{}");
        Directory.CreateSymbolicLink(dir.Combine("000000000000abcd"), dir.Combine("kept-by-someone"));

        GuestImageStore.PointCurrentAt(dir.Path, images[0]); // the first install: nothing to replace, nothing removed
        Assert.Equal(images.Length + 5, Directory.EnumerateFileSystemEntries(dir.Path).Count());
        GuestImageStore.PointCurrentAt(dir.Path, images[1]);
        GuestImageStore.PointCurrentAt(dir.Path, images[2]);

        Assert.Equal(images[2], new FileInfo(dir.Combine(GuestImageStore.CurrentLinkName)).LinkTarget);
        Assert.Equal(
            [images[1], images[2], images[3], "00000000000000ff", "000000000000abcd", "current", "kept-by-someone", "modules"],
            Directory.EnumerateFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(dir.Combine("kept-by-someone", GuestImageStore.ManifestFileName))); // a link is not followed
    }
}
