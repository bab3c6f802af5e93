using System.Text.RegularExpressions;

namespace Moat.ImageBuilder;

/// <summary>A kernel .deb as apt knows it: package name, file name and size.</summary>
internal sealed record KernelDebInfo(string Package, string FileName, long? Size);

/// <summary>Finds, downloads and unpacks Debian kernel packages with apt-get, apt-cache and dpkg-deb.</summary>
internal sealed partial class KernelPackageSource(ICommandRunner runner)
{
    private const string MirrorAdvice = "check that Debian's package mirror is reachable and that apt's sources list it";
    private bool _aptUpdated;

    /// <summary>linux-image-amd64 -> linux-image-6.1.0-56-amd64 (following meta packages); concrete names are returned as they are.</summary>
    public async Task<string> ResolvePackageAsync(string package, CancellationToken ct)
    {
        for (var depth = 0; depth < 4 && !ConcreteImage().IsMatch(package); depth++)
        {
            var result = await AptAsync("apt-cache", ["depends", package], null, ct).ConfigureAwait(false);
            var match = result.ExitCode == 0 ? DependsOnImage().Match(result.StandardOutput) : Match.Empty;
            if (!match.Success && await UpdateOnceAsync(ct).ConfigureAwait(false))
            {
                result = await AptAsync("apt-cache", ["depends", package], null, ct).ConfigureAwait(false);
                match = result.ExitCode == 0 ? DependsOnImage().Match(result.StandardOutput) : Match.Empty;
            }

            if (result.ExitCode != 0)
            {
                throw HostTools.Failure("apt-cache", ["depends", package], result, MirrorAdvice);
            }

            if (!match.Success)
            {
                throw new GuestImageException(
                    $"apt-cache depends {package} names no linux-image-<version> package — set the kernel package to a Debian linux-image package");
            }

            package = match.Groups[1].Value;
        }

        return package;
    }

    /// <summary>The .deb file name apt would download for <paramref name="package"/>, without downloading it.</summary>
    public async Task<KernelDebInfo> GetDebInfoAsync(string package, CancellationToken ct)
    {
        string[] args = ["download", "--print-uris", package];
        var result = await WithUpdateRetryAsync(() => AptAsync("apt-get", args, null, ct), ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw HostTools.Failure("apt-get", args, result, MirrorAdvice);
        }

        // 'http://.../linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb' linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb 70550672 SHA256:...
        var line = result.StandardOutput.Split('\n', StringSplitOptions.TrimEntries).FirstOrDefault(l => l.StartsWith('\''));
        var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields is null || fields.Length < 2 || !fields[1].EndsWith(".deb", StringComparison.Ordinal))
        {
            throw new GuestImageException($"apt-get download --print-uris {package} gave no .deb — run 'apt-get update' and check that the package exists");
        }

        long? size = fields.Length > 2 && long.TryParse(fields[2], out var s) ? s : null;
        return new KernelDebInfo(package, Path.GetFileName(fields[1]), size);
    }

    /// <summary>Downloads the .deb into <paramref name="cacheDir"/> (through a temp dir, so a partial download never looks complete).</summary>
    public async Task<string> DownloadAsync(KernelDebInfo deb, string cacheDir, CancellationToken ct)
    {
        var destination = Path.Combine(cacheDir, deb.FileName);
        var temp = Directory.CreateDirectory(Path.Combine(cacheDir, $".download-{Guid.NewGuid():N}"));
        try
        {
            string[] args = ["download", deb.Package];
            var result = await WithUpdateRetryAsync(() => AptAsync("apt-get", args, temp.FullName, ct), ct).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw HostTools.Failure("apt-get", args, result, MirrorAdvice);
            }

            var downloaded = temp.GetFiles("*.deb").FirstOrDefault()
                ?? throw new GuestImageException($"apt-get download {deb.Package} succeeded but left no .deb in {temp.FullName}");
            File.Move(downloaded.FullName, destination, overwrite: true);
            return destination;
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>Unpacks <paramref name="debPath"/> into <paramref name="destination"/> unless a marker says it already holds this .deb.</summary>
    /// <returns>True when it unpacked, false when the existing tree was reused.</returns>
    public async Task<bool> UnpackAsync(string debPath, string destination, bool force, CancellationToken ct)
    {
        const string MarkerName = ".moat-unpacked";
        var debName = Path.GetFileName(debPath);
        var marker = Path.Combine(destination, MarkerName);
        if (!force && File.Exists(marker) && (await File.ReadAllTextAsync(marker, ct).ConfigureAwait(false)).Trim() == debName)
        {
            return false;
        }

        var parent = Path.GetDirectoryName(Path.GetFullPath(destination))!;
        var temp = Path.Combine(parent, $".unpack-{Guid.NewGuid():N}");
        try
        {
            string[] args = ["-x", debPath, temp];
            var result = await HostTools.RunAsync(runner, "dpkg-deb", args, null, ct).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw HostTools.Failure("dpkg-deb", args, result, $"the .deb may be damaged: delete {debPath} and build again");
            }

            await File.WriteAllTextAsync(Path.Combine(temp, MarkerName), debName + "\n", ct).ConfigureAwait(false);
            if (Directory.Exists(destination))
            {
                Directory.Delete(destination, recursive: true);
            }

            Directory.Move(temp, destination);
            return true;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>Package name of a .deb file name: linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb -> linux-image-6.1.0-56-amd64.</summary>
    public static string PackageOfFileName(string debFileName)
    {
        var underscore = debFileName.IndexOf('_', StringComparison.Ordinal);
        return underscore > 0 ? debFileName[..underscore] : Path.GetFileNameWithoutExtension(debFileName);
    }

    private Task<CommandResult> AptAsync(string tool, string[] args, string? workingDirectory, CancellationToken ct) =>
        HostTools.RunAsync(runner, tool, args, workingDirectory, ct);

    /// <summary>Runs an apt command; if it fails because the package lists are missing or stale, runs apt-get update once and retries.</summary>
    private async Task<CommandResult> WithUpdateRetryAsync(Func<Task<CommandResult>> run, CancellationToken ct)
    {
        var result = await run().ConfigureAwait(false);
        if (result.ExitCode != 0 && ListsLookStale(result) && await UpdateOnceAsync(ct).ConfigureAwait(false))
        {
            result = await run().ConfigureAwait(false);
        }

        return result;
    }

    private static bool ListsLookStale(CommandResult result) =>
        result.StandardError.Contains("Unable to locate", StringComparison.Ordinal)
        || result.StandardError.Contains("404", StringComparison.Ordinal)
        || result.StandardError.Contains("has no installation candidate", StringComparison.Ordinal);

    private async Task<bool> UpdateOnceAsync(CancellationToken ct)
    {
        if (_aptUpdated)
        {
            return false;
        }

        _aptUpdated = true;
        string[] args = ["update"];
        var result = await AptAsync("apt-get", args, null, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw HostTools.Failure("apt-get", args, result, MirrorAdvice);
        }

        return true;
    }

    [GeneratedRegex(@"^linux-image-\d")]
    private static partial Regex ConcreteImage();

    [GeneratedRegex(@"Depends:\s*<?(linux-image-\d[^\s>]*)>?")]
    private static partial Regex DependsOnImage();
}
