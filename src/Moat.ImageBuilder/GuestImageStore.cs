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

    /// <summary>Points GuestRoot/current at <paramref name="name"/> (a sibling directory) atomically: new symlink, then rename over the old one.</summary>
    public static void PointCurrentAt(string guestRoot, string name)
    {
        var current = Path.Combine(guestRoot, CurrentLinkName);
        var existing = new FileInfo(current);
        if (existing.LinkTarget == name)
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
    }

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
