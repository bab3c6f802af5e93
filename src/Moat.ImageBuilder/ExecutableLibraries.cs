namespace Moat.ImageBuilder;

/// <summary>The shared libraries an executable needs to run on another root (an image's).</summary>
public static class ExecutableLibraries
{
    /// <summary>
    /// Each library (and the ELF interpreter) <paramref name="executables"/> load, plus
    /// <paramref name="opened"/> (sonames they open at run time) with theirs: where the loader
    /// looks for it, and the host file to copy there. Each once.
    /// </summary>
    public static async Task<IReadOnlyList<(string LoaderPath, string HostPath)>> OfAsync(IReadOnlyList<string> executables, IReadOnlyList<string> opened,
        CancellationToken ct)
    {
        var resolver = new SharedLibraryResolver(new ProcessCommandRunner());
        var all = new List<SharedLibrary>();
        foreach (var e in executables)
        {
            all.AddRange(await resolver.ResolveAsync(e, ct).ConfigureAwait(false));
        }
        foreach (var soname in opened)
        {
            all.AddRange(await resolver.ResolveRuntimeAsync(soname, GuestBuildOptions.DefaultLibraryDirectories, ct).ConfigureAwait(false));
        }
        return all.DistinctBy(l => l.GuestPath, StringComparer.Ordinal).Select(l => (l.GuestPath, l.HostPath)).ToList();
    }
}
