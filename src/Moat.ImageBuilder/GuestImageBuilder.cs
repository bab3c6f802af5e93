using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Moat.ImageBuilder;

/// <summary>
/// Builds the guest image from Debian's kernel package and the agent: DataDir/guest/&lt;key&gt;/{vmlinux, initrd.img, manifest.json},
/// with DataDir/guest/current pointing at the latest. Rebuilds only when the kernel package, the agent, the module list or
/// a library in the initrd (the agent's, and those it opens at run time such as libseccomp) change.
/// </summary>
public sealed class GuestImageBuilder
{
    /// <summary>Bump when the image layout changes so existing images are rebuilt.</summary>
    internal const int FormatVersion = 2;

    private const int StepCount = 8;

    private readonly GuestBuildOptions _options;
    private readonly ICommandRunner _runner;

    public GuestImageBuilder(GuestBuildOptions options)
        : this(options, ProcessCommandRunner.Instance)
    {
    }

    internal GuestImageBuilder(GuestBuildOptions options, ICommandRunner runner)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AgentPath);
        _options = options;
        _runner = runner;
    }

    internal CompressionLevel InitrdCompression { get; init; } = CompressionLevel.Fastest;

    public async Task<GuestImage> BuildAsync(IProgress<GuestBuildProgress>? progress, CancellationToken ct)
    {
        var agentPath = Path.GetFullPath(_options.AgentPath);
        if (!File.Exists(agentPath))
        {
            throw new GuestImageException($"agent executable {agentPath} not found — build it first (dotnet publish of the agent with NativeAOT)");
        }

        var dataDir = Path.GetFullPath(_options.DataDir);
        var cacheDir = Directory.CreateDirectory(Path.Combine(dataDir, "cache")).FullName;
        var guestRoot = Directory.CreateDirectory(GuestImageStore.GuestRoot(dataDir)).FullName;
        var packages = new KernelPackageSource(_runner);
        void Report(int index, string step, string? detail) => progress?.Report(new GuestBuildProgress(step, index, StepCount, detail));

        // 1. Which kernel .deb: cheap (apt's lists only), and enough to know whether anything changed.
        KernelDebInfo deb;
        string? debPath = null;
        if (_options.KernelDeb is { } given)
        {
            debPath = Path.GetFullPath(given);
            if (!File.Exists(debPath))
            {
                throw new GuestImageException($"kernel package {debPath} not found");
            }

            var fileName = Path.GetFileName(debPath);
            deb = new KernelDebInfo(KernelPackageSource.PackageOfFileName(fileName), fileName, null);
            Report(1, "Resolve kernel package", $"{deb.Package} (given: {debPath})");
        }
        else
        {
            var package = await packages.ResolvePackageAsync(_options.KernelPackage, ct).ConfigureAwait(false);
            deb = await packages.GetDebInfoAsync(package, ct).ConfigureAwait(false);
            Report(1, "Resolve kernel package", deb.FileName);
        }

        var modules = _options.Modules.ToArray();
        var agentSha256 = await Sha256OfFileAsync(agentPath, ct).ConfigureAwait(false);
        // Libraries are part of the key (a libseccomp or libc update rebuilds the initrd): ldd is cheap.
        var libraries = await ResolveLibrariesAsync(agentPath, ct).ConfigureAwait(false);
        var libraryHashes = new List<string>();
        foreach (var library in libraries)
        {
            libraryHashes.Add($"{library.GuestPath} {await Sha256OfFileAsync(library.HostPath, ct).ConfigureAwait(false)}");
        }
        var key = ComputeKey(deb.FileName, agentSha256, modules, libraryHashes);
        var name = key[..16];
        var imageDir = Path.Combine(guestRoot, name);

        if (!_options.Force && GuestImageStore.TryLoad(imageDir, key) is { } existing)
        {
            GuestImageStore.PointCurrentAt(guestRoot, name);
            Report(StepCount, "Up to date", imageDir);
            return existing;
        }

        // 2. Download (kept in DataDir/cache by file name).
        if (debPath is null)
        {
            debPath = Path.Combine(cacheDir, deb.FileName);
            var cached = new FileInfo(debPath);
            if (cached.Exists && (deb.Size is null || cached.Length == deb.Size))
            {
                Report(2, "Download kernel package", $"{deb.FileName} (cached)");
            }
            else
            {
                Report(2, "Download kernel package", deb.FileName);
                debPath = await packages.DownloadAsync(deb, cacheDir, ct).ConfigureAwait(false);
            }
        }
        else
        {
            Report(2, "Download kernel package", $"{deb.FileName} (given)");
        }

        // 3. Unpack (reused while its marker names the same .deb).
        var unpackDir = Path.Combine(cacheDir, deb.Package);
        Report(3, "Unpack kernel package", unpackDir);
        await packages.UnpackAsync(debPath, unpackDir, _options.Force, ct).ConfigureAwait(false);
        var (kernelVersion, modulesDir) = FindKernel(unpackDir, deb.FileName);

        var temp = Directory.CreateDirectory(Path.Combine(guestRoot, $".build-{name}-{Guid.NewGuid():N}")).FullName;
        try
        {
            // 4. vmlinux out of the bzImage.
            var vmlinuz = Path.Combine(unpackDir, "boot", $"vmlinuz-{kernelVersion}");
            if (!File.Exists(vmlinuz))
            {
                throw new GuestImageException($"{deb.FileName} has no boot/vmlinuz-{kernelVersion}");
            }

            Report(4, "Extract vmlinux", vmlinuz);
            await VmlinuxExtractor.ExtractAsync(_runner, vmlinuz, Path.Combine(temp, GuestImageStore.VmlinuxFileName), ct).ConfigureAwait(false);

            // 5. Modules in load order.
            Report(5, "Resolve kernel modules", string.Join(' ', modules));
            var moduleFiles = await ResolveModulesAsync(unpackDir, kernelVersion, modulesDir, modules, ct).ConfigureAwait(false);
            var modulesDisk = ModulesDisk.RelativePath(deb.FileName);
            await ModulesDisk.EnsureAsync(_runner, modulesDir, Path.Combine(guestRoot, modulesDisk), ct).ConfigureAwait(false);

            // 6. Libraries the agent needs (resolved above, for the key).
            Report(6, "Resolve agent libraries", string.Join(' ', libraries.Select(l => Path.GetFileName(l.GuestPath))));

            // 7. initrd.
            Report(7, "Write initrd", $"{moduleFiles.Count} modules, {libraries.Count} libraries");
            var layout = CreateLayout(agentPath, kernelVersion, modulesDir, moduleFiles, libraries);
            await Task.Run(() => layout.WriteGzip(Path.Combine(temp, GuestImageStore.InitrdFileName), InitrdCompression, ct), ct).ConfigureAwait(false);

            var manifest = new GuestManifest(
                key, kernelVersion, deb.FileName, agentSha256, modules, DateTime.UtcNow,
                GuestImageStore.VmlinuxFileName, GuestImageStore.InitrdFileName, Path.Combine("..", modulesDisk));
            GuestImageStore.WriteManifest(temp, manifest);

            // 8. Into place, then switch "current".
            Report(8, "Install", imageDir);
            Install(temp, imageDir, guestRoot);
            GuestImageStore.PointCurrentAt(guestRoot, name);
            return GuestImageStore.ToImage(imageDir, manifest, rebuilt: true);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>
    /// The agent's libraries (ldd) and those it opens at run time with theirs, each once, in a
    /// stable order.
    /// </summary>
    private async Task<IReadOnlyList<SharedLibrary>> ResolveLibrariesAsync(string agentPath, CancellationToken ct)
    {
        var resolver = new SharedLibraryResolver(_runner);
        var all = new List<SharedLibrary>(await resolver.ResolveAsync(agentPath, ct).ConfigureAwait(false));
        foreach (var soname in _options.RuntimeLibraries)
        {
            all.AddRange(await resolver.ResolveRuntimeAsync(soname, _options.LibraryDirectories, ct).ConfigureAwait(false));
        }
        return all.DistinctBy(l => l.GuestPath, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// sha256 over everything an image is built from; its first 16 hex digits name the image
    /// directory. <paramref name="libraries"/>: "GUEST-PATH SHA256" of each library in the initrd.
    /// </summary>
    internal static string ComputeKey(string kernelDebFileName, string agentSha256, IEnumerable<string> modules, IEnumerable<string> libraries)
    {
        var text = string.Create(
            CultureInfo.InvariantCulture,
            $"moat-guest-format {FormatVersion}\nkernel {kernelDebFileName}\nagent {agentSha256}\nmodules {string.Join(',', modules)}\n{string.Concat(libraries.Select(l => $"library {l}\n"))}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The initrd's entries: /init, the modules and their load list, the agent's libraries, and empty mount points.</summary>
    internal static InitramfsLayout CreateLayout(
        string agentPath, string kernelVersion, string modulesDir, IReadOnlyList<string> moduleFiles, IReadOnlyList<SharedLibrary> libraries)
    {
        var layout = new InitramfsLayout();
        foreach (var dir in new[] { "proc", "sys", "dev", "tmp", "run", "mnt", "etc" })
        {
            layout.AddDirectory(dir, dir == "tmp" ? 0x3FF /* 1777 */ : 0x1ED);
        }

        // The kernel opens /dev/console for /init's stdin/stdout/stderr before devtmpfs exists;
        // without this node the agent would start with fds 0-2 closed.
        layout.AddCharDevice("dev/console", 0x180 /* 0600 */, 5, 1);

        layout.AddHostFile("init", agentPath, 0x1ED);
        // The kernel runs /sbin/modprobe for a module it needs: the agent, as modprobe (Modprobe.cs).
        layout.AddDirectory("sbin", 0x1ED);
        layout.AddSymlink("sbin/modprobe", "/init");
        foreach (var module in moduleFiles)
        {
            layout.AddHostFile($"lib/modules/{kernelVersion}/{module}", Path.Combine(modulesDir, module));
        }

        layout.AddFile("etc/moat/modules", Encoding.UTF8.GetBytes(string.Concat(moduleFiles.Select(m => m + "\n"))));
        foreach (var library in libraries)
        {
            layout.AddHostFile(library.GuestPath, library.HostPath, 0x1ED);
        }

        return layout;
    }

    private async Task<IReadOnlyList<string>> ResolveModulesAsync(
        string unpackDir, string kernelVersion, string modulesDir, IReadOnlyList<string> modules, CancellationToken ct)
    {
        // Debian's .deb ships no modules.dep: generate it once per unpacked tree.
        var depFile = Path.Combine(modulesDir, "modules.dep");
        if (!File.Exists(depFile))
        {
            string[] args = ["-b", unpackDir, kernelVersion];
            await HostTools.RunCheckedAsync(_runner, "depmod", args, null, "check that the kernel package unpacked completely", ct)
                .ConfigureAwait(false);
            if (!File.Exists(depFile))
            {
                throw new GuestImageException($"depmod -b {unpackDir} {kernelVersion} wrote no {depFile}");
            }
        }

        var depText = await File.ReadAllTextAsync(depFile, ct).ConfigureAwait(false);
        var files = ModuleResolver.Resolve(depText, modules, kernelVersion);
        foreach (var file in files)
        {
            if (!File.Exists(Path.Combine(modulesDir, file)))
            {
                throw new GuestImageException($"kernel module file {file} listed in modules.dep of {kernelVersion} is missing from {modulesDir}");
            }
        }

        return files;
    }

    private static (string KernelVersion, string ModulesDir) FindKernel(string unpackDir, string debFileName)
    {
        var modulesRoot = Path.Combine(unpackDir, "lib", "modules");
        var versions = Directory.Exists(modulesRoot) ? Directory.GetDirectories(modulesRoot) : [];
        if (versions.Length != 1)
        {
            throw new GuestImageException(
                $"{debFileName} should hold exactly one lib/modules/<version> directory, found {versions.Length} — is it a linux-image package?");
        }

        return (Path.GetFileName(versions[0]), versions[0]);
    }

    private static void Install(string temp, string imageDir, string guestRoot)
    {
        if (Directory.Exists(imageDir))
        {
            // Forced rebuild or a damaged image: move the old one aside first (a running VM may still read it).
            var old = Path.Combine(guestRoot, $".old-{Path.GetFileName(imageDir)}-{Guid.NewGuid():N}");
            Directory.Move(imageDir, old);
            Directory.Move(temp, imageDir);
            try
            {
                Directory.Delete(old, recursive: true);
            }
            catch (IOException)
            {
                // left for a later cleanup; harmless
            }

            return;
        }

        try
        {
            Directory.Move(temp, imageDir);
        }
        catch (IOException) when (Directory.Exists(imageDir))
        {
            // A concurrent build of the same inputs got there first; its image is as good as ours.
        }
    }

    private static async Task<string> Sha256OfFileAsync(string path, CancellationToken ct)
    {
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
        }
    }
}
