using Moat.ImageBuilder;
using Moat.Runtime;

namespace Moat.Node.Deploy;

/// <summary>
/// <c>moat image installer</c>: the DaemonSet's image, built from this node's own Moat: busybox
/// (a shell for the restart command and for debugging), Moat's three binaries with the shared
/// libraries they load, and the current guest image, laid out as <see cref="DeployLayout"/>
/// expects under <see cref="Artifacts"/>. Its command installs Moat on the node it runs on.
/// </summary>
public static class InstallerImage
{
    public const string Artifacts = "/opt/moat-artifacts";
    public const string DefaultReference = "moat.local/moat-installer:latest";

    /// <summary>
    /// Libraries .NET opens at run time (not in the binaries' NEEDED lists): OpenSSL, for the
    /// TLS to the Kubernetes API.
    /// </summary>
    private static readonly string[] OpenedLibraries = ["libssl.so.3", "libcrypto.so.3"];

    public static async Task WriteAsync(string binDir, string dataDir, string reference, string output, CancellationToken ct)
    {
        var binaries = DeployLayout.Binaries.Select(b => Path.Combine(binDir, b)).ToList();
        if (binaries.FirstOrDefault(b => !File.Exists(b)) is { } missing)
        {
            throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"{missing} not found: build and install Moat first (scripts/setup.sh)");
        }
        var guest = GuestImage.TryLoadCurrent(dataDir) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency,
            $"no guest image under {dataDir}: run 'moat image build' first");
        var tmp = Directory.CreateTempSubdirectory("moat-installer-");
        try
        {
            BusyboxBundle.Create(tmp.FullName, ["sh"]);
            var rootfs = Path.Combine(tmp.FullName, "rootfs");
            var bin = Path.Combine(rootfs, Artifacts.TrimStart('/'), "bin");
            Directory.CreateDirectory(bin);
            foreach (var b in binaries)
            {
                File.Copy(b, Path.Combine(bin, Path.GetFileName(b)));
            }
            var imageDir = Path.Combine(rootfs, Artifacts.TrimStart('/'), "guest", Path.GetFileName(guest.Directory));
            Directory.CreateDirectory(imageDir);
            foreach (var f in Directory.EnumerateFiles(guest.Directory))
            {
                File.Copy(f, Path.Combine(imageDir, Path.GetFileName(f)));
            }
            GuestImage.MakeCurrent(Path.GetDirectoryName(imageDir)!, Path.GetFileName(imageDir));
            foreach (var (loaderPath, hostPath) in await ExecutableLibraries.OfAsync(binaries, OpenedLibraries, ct).ConfigureAwait(false))
            {
                var to = Path.Combine(rootfs, loaderPath.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(hostPath, to, overwrite: true);
            }
            ImageArchive.Write(rootfs, reference, [Path.Combine(Artifacts, "bin", "moat"), "deploy", "install", "--wait"], output);
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
    }
}
