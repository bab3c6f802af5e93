namespace Moat.ImageBuilder;

/// <summary>A shared library an executable needs: where the loader looks for it and where it is on the host.</summary>
internal sealed record SharedLibrary(string GuestPath, string HostPath);

/// <summary>Lists the shared libraries (and the ELF interpreter) an executable needs, using ldd.</summary>
internal sealed class SharedLibraryResolver(ICommandRunner runner)
{
    /// <summary>Debian package that ships each library the agent opens at run time.</summary>
    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal)
    {
        ["libseccomp.so.2"] = "libseccomp2",
    };

    /// <summary>
    /// A library the agent opens at run time (LibraryImport binds it on the first call, so it is not
    /// in the agent's ELF NEEDED list) and the libraries it needs itself. It is looked up by soname in
    /// <paramref name="directories"/>, in order, and goes to the same path in the guest, where the
    /// loader's default search finds it.
    /// </summary>
    public async Task<IReadOnlyList<SharedLibrary>> ResolveRuntimeAsync(string soname, IReadOnlyList<string> directories, CancellationToken ct)
    {
        var guestPath = directories.Select(d => Path.Combine(d, soname)).FirstOrDefault(File.Exists)
            ?? throw new GuestImageException(
                $"{soname}, which the agent opens at run time, is not in {string.Join(", ", directories)}"
                + (Packages.TryGetValue(soname, out var package) ? $": install it with 'apt-get install {package}'" : ": install the package that provides it"));
        var library = new SharedLibrary(guestPath, ResolveHostPath(guestPath));
        return [library, .. await ResolveAsync(library.HostPath, ct).ConfigureAwait(false)];
    }

    public async Task<IReadOnlyList<SharedLibrary>> ResolveAsync(string executable, CancellationToken ct)
    {
        var result = await HostTools.RunAsync(runner, "ldd", [executable], null, ct).ConfigureAwait(false);
        if (IsStatic(result))
        {
            return [];
        }

        if (result.ExitCode != 0)
        {
            throw HostTools.Failure("ldd", [executable], result, "check that the agent is a Linux executable for this architecture");
        }

        return Parse(result.StandardOutput, executable);
    }

    /// <summary>Parses ldd's output. Lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)".</summary>
    internal static IReadOnlyList<SharedLibrary> Parse(string lddOutput, string executable)
    {
        var libraries = new List<SharedLibrary>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rawLine in lddOutput.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line.Contains("statically linked", StringComparison.Ordinal))
            {
                continue;
            }

            string guestPath;
            var arrow = line.IndexOf("=>", StringComparison.Ordinal);
            if (arrow >= 0)
            {
                var soname = line[..arrow].Trim();
                var target = StripAddress(line[(arrow + 2)..]);
                if (target is "not found" || target.Length == 0)
                {
                    if (soname.StartsWith("linux-vdso", StringComparison.Ordinal) || soname.StartsWith("linux-gate", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    throw new GuestImageException($"shared library '{soname}' needed by {executable} not found on this host — install the package that provides it");
                }

                guestPath = target;
            }
            else
            {
                guestPath = StripAddress(line);
                if (!guestPath.StartsWith('/'))
                {
                    continue; // linux-vdso.so.1 and friends: provided by the kernel
                }
            }

            if (seen.Add(guestPath))
            {
                libraries.Add(new SharedLibrary(guestPath, ResolveHostPath(guestPath)));
            }
        }

        return libraries;
    }

    private static bool IsStatic(CommandResult result) =>
        result.StandardOutput.Contains("statically linked", StringComparison.Ordinal)
        || result.StandardError.Contains("not a dynamic executable", StringComparison.Ordinal)
        || result.StandardOutput.Contains("not a dynamic executable", StringComparison.Ordinal);

    private static string StripAddress(string text)
    {
        var s = text.Trim();
        var paren = s.LastIndexOf(" (0x", StringComparison.Ordinal);
        return paren >= 0 ? s[..paren].Trim() : s;
    }

    /// <summary>The real file behind <paramref name="path"/> (symlinks followed), so the initrd gets content, not a link.</summary>
    private static string ResolveHostPath(string path)
    {
        var target = File.ResolveLinkTarget(path, returnFinalTarget: true);
        return target?.FullName ?? path;
    }
}
