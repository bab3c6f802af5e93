using System.Runtime.InteropServices;
using System.Text.Json;

namespace Moat.ImageBuilder;

/// <summary>Layout of DataDir/guest: versioned image directories, their manifests and the "current" symlink.</summary>
internal static class GuestImageStore
{
    public const string ManifestFileName = "manifest.json";
    public const string CurrentLinkName = "current";
    public const string VmlinuxFileName = "vmlinux";
    public const string InitrdFileName = "initrd.img";

    public static string GuestRoot(string dataDir) => Path.Combine(dataDir, "guest");

    public static GuestImage? TryLoadCurrent(string dataDir)
    {
        var current = Path.Combine(GuestRoot(dataDir), CurrentLinkName);
        string directory;
        try
        {
            // Resolve once so the image stays consistent even if "current" is switched meanwhile.
            directory = Directory.ResolveLinkTarget(current, returnFinalTarget: true)?.FullName ?? current;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        var manifest = TryReadManifest(directory);
        return manifest is null ? null : TryToImage(directory, manifest, rebuilt: false);
    }

    /// <summary>The image in <paramref name="directory"/> if its manifest has <paramref name="key"/> and its files exist.</summary>
    public static GuestImage? TryLoad(string directory, string key)
    {
        var manifest = TryReadManifest(directory);
        return manifest is null || manifest.Key != key ? null : TryToImage(directory, manifest, rebuilt: false);
    }

    public static GuestManifest? TryReadManifest(string directory)
    {
        try
        {
            var bytes = File.ReadAllBytes(Path.Combine(directory, ManifestFileName));
            return JsonSerializer.Deserialize(bytes, GuestManifestJsonContext.Default.GuestManifest);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static void WriteManifest(string directory, GuestManifest manifest)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, GuestManifestJsonContext.Default.GuestManifest);
        File.WriteAllBytes(Path.Combine(directory, ManifestFileName), bytes);
    }

    /// <summary>
    /// Points GuestRoot/current at <paramref name="name"/> (a sibling directory) atomically: new
    /// symlink, then rename over the old one. Then removes the images older than the one it
    /// replaced (<see cref="PruneOlderImages"/>).
    /// </summary>
    public static void PointCurrentAt(string guestRoot, string name)
    {
        var current = Path.Combine(guestRoot, CurrentLinkName);
        var existing = new FileInfo(current);
        var previous = existing.LinkTarget;
        if (previous == name)
        {
            return;
        }

        var temp = Path.Combine(guestRoot, $".current-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(temp, name);
        try
        {
            if (Moat.Linux.Interop.Libc.rename(temp, current) != 0)
            {
                throw new GuestImageException(
                    $"cannot point {current} at {name}: {Marshal.GetLastPInvokeErrorMessage()} — check that {guestRoot} is writable");
            }
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        if (previous is not null)
        {
            PruneOlderImages(guestRoot, name, previous, DateTime.UtcNow);
        }
    }

    /// <summary>An image directory younger than this may be one a concurrent build just made and is about to switch to.</summary>
    private static readonly TimeSpan YoungImage = TimeSpan.FromHours(1);

    /// <summary>
    /// Removes every image directory but <paramref name="current"/> and <paramref name="previous"/>:
    /// each build or upgrade adds one (40 MB), and nothing else ever removed them (64 had piled up
    /// here). A VM still running on a removed image keeps its open files; the previous image stays
    /// for a template or VM start that resolved it just before the switch, and an image made in
    /// the last hour for a concurrent build about to switch to it. Only directories named as images
    /// are (sixteen hex digits, with a manifest) are touched.
    /// </summary>
    internal static void PruneOlderImages(string guestRoot, string current, string previous, DateTime now)
    {
        foreach (var dir in Directory.EnumerateDirectories(guestRoot))
        {
            var name = Path.GetFileName(dir);
            var info = new DirectoryInfo(dir);
            if (name == current || name == previous || !IsImageName(name) || info.LinkTarget is not null
                || !File.Exists(Path.Combine(dir, ManifestFileName)) || now - info.LastWriteTimeUtc < YoungImage)
            {
                continue;
            }
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the next switch; an image that cannot be removed must not fail the build.
            }
        }
    }

    private static bool IsImageName(string name) => name.Length == 16 && name.All(char.IsAsciiHexDigitLower);

    public static GuestImage ToImage(string directory, GuestManifest manifest, bool rebuilt) =>
        new(directory, Path.Combine(directory, manifest.Vmlinux), Path.Combine(directory, manifest.Initrd), manifest.KernelVersion, rebuilt)
        {
            ModulesDiskPath = manifest.ModulesDisk is { } disk && File.Exists(Path.Combine(directory, disk)) ? Path.GetFullPath(Path.Combine(directory, disk)) : null,
        };

    private static GuestImage? TryToImage(string directory, GuestManifest manifest, bool rebuilt)
    {
        var image = ToImage(directory, manifest, rebuilt);
        return File.Exists(image.KernelPath) && File.Exists(image.InitrdPath) ? image : null;
    }
}
