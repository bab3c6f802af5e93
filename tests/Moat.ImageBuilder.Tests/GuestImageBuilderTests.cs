using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Moat.ImageBuilder.Tests;

public sealed class GuestImageBuilderTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeDebian _debian;
    private readonly string _agent;
    private readonly string _dataDir;

    public GuestImageBuilderTests()
    {
        _debian = new FakeDebian(_dir);
        _dataDir = _dir.Combine("data");
        _agent = _dir.Combine("agent");
        File.Copy("/bin/ls", _agent); // a dynamic executable stands in for the agent
    }

    public void Dispose() => _dir.Dispose();

    private GuestImageBuilder Builder(bool force = false, IReadOnlyList<string>? modules = null, string? kernelDeb = null, IReadOnlyList<string>? libraryDirectories = null) =>
        new(new GuestBuildOptions
        {
            DataDir = _dataDir,
            AgentPath = _agent,
            Force = force,
            Modules = modules ?? GuestBuildOptions.DefaultModules,
            KernelDeb = kernelDeb,
            LibraryDirectories = libraryDirectories ?? GuestBuildOptions.DefaultLibraryDirectories,
        }, _debian.Runner);

    private string Current => Path.Combine(_dataDir, "guest", "current");

    [Fact]
    public async Task Builds_versioned_image_then_skips_until_an_input_changes()
    {
        var steps = new List<GuestBuildProgress>();
        var first = await Builder().BuildAsync(new SyncProgress(steps), CancellationToken.None);

        Assert.True(first.Rebuilt);
        Assert.Equal(FakeDebian.KernelVersion, first.KernelVersion);
        Assert.Equal(_debian.Elf, await File.ReadAllBytesAsync(first.KernelPath));
        Assert.Equal(Path.GetFileName(first.Directory), new FileInfo(Current).LinkTarget);
        Assert.Equal(Enumerable.Range(1, 8), steps.Select(s => s.Index));
        Assert.All(steps, s => Assert.Equal(8, s.Count));
        Assert.True(File.Exists(Path.Combine(_dataDir, "cache", _debian.FileName)));
        Assert.Equal(1, _debian.Runner.Count("apt-get download linux-image"));

        // Same inputs: nothing is downloaded, unpacked or written.
        steps.Clear();
        var second = await Builder().BuildAsync(new SyncProgress(steps), CancellationToken.None);
        Assert.False(second.Rebuilt);
        Assert.Equal(first with { Rebuilt = false }, second);
        Assert.Equal("Up to date", steps[^1].Step);
        Assert.Equal(2, steps.Count);
        Assert.Equal(1, _debian.Runner.Count("apt-get download linux-image"));
        Assert.Equal(1, _debian.Runner.Count("dpkg-deb"));

        // New agent bytes: new image directory, cached kernel package reused, "current" switched.
        await File.AppendAllTextAsync(_agent, "v2");
        var third = await Builder().BuildAsync(null, CancellationToken.None);
        Assert.True(third.Rebuilt);
        Assert.NotEqual(first.Directory, third.Directory);
        Assert.Equal(Path.GetFileName(third.Directory), new FileInfo(Current).LinkTarget);
        Assert.Equal(1, _debian.Runner.Count("apt-get download linux-image"));
        Assert.Equal(1, _debian.Runner.Count("dpkg-deb"));
        Assert.Equal(third with { Rebuilt = false }, GuestImage.TryLoadCurrent(_dataDir));
        Assert.True(Directory.Exists(first.Directory)); // old image kept for VMs that still use it

        // Back to the first agent: its image is still there and becomes current again without a rebuild.
        await File.WriteAllBytesAsync(_agent, await File.ReadAllBytesAsync("/bin/ls"));
        var back = await Builder().BuildAsync(null, CancellationToken.None);
        Assert.False(back.Rebuilt);
        Assert.Equal(first.Directory, GuestImage.TryLoadCurrent(_dataDir)!.Directory);

        // Force rebuilds in place.
        var forced = await Builder(force: true).BuildAsync(null, CancellationToken.None);
        Assert.True(forced.Rebuilt);
        Assert.Equal(first.Directory, forced.Directory);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dataDir, "guest"), ".*"));
    }

    private static async Task<string> Cmd(string file, params string[] args)
    {
        var r = await ProcessCommandRunner.Instance.RunAsync(file, args, null, CancellationToken.None);
        Assert.True(r.ExitCode == 0, r.StandardError);
        return r.StandardOutput;
    }

    [Fact]
    public async Task Initrd_holds_init_modules_in_load_order_libraries_and_mount_points_only()
    {
        var image = await Builder().BuildAsync(null, CancellationToken.None);

        var entries = ReadInitrd(image.InitrdPath).ToDictionary(e => e.Name);
        var modules = ModuleResolver.Resolve(FakeDebian.ModulesDep, GuestBuildOptions.DefaultModules);
        var resolver = new SharedLibraryResolver(ProcessCommandRunner.Instance);
        var libraries = (await resolver.ResolveAsync(_agent, CancellationToken.None)).ToList();
        libraries.AddRange(await resolver.ResolveRuntimeAsync("libseccomp.so.2", GuestBuildOptions.DefaultLibraryDirectories, CancellationToken.None));

        var files = new List<string> { "init", "etc/moat/modules", "dev/console", "sbin/modprobe" };
        files.AddRange(modules.Select(m => $"lib/modules/{FakeDebian.KernelVersion}/{m}"));
        files.AddRange(libraries.Select(l => l.GuestPath.TrimStart('/')));
        var expected = new HashSet<string>(["proc", "sys", "dev", "tmp", "run", "mnt", "etc"], StringComparer.Ordinal);
        foreach (var file in files)
        {
            expected.Add(file);
            for (var slash = file.LastIndexOf('/'); slash > 0; slash = file.LastIndexOf('/', slash - 1))
            {
                expected.Add(file[..slash]);
            }
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(await File.ReadAllBytesAsync(_agent), entries["init"].Data);
        Assert.Equal("/init", System.Text.Encoding.UTF8.GetString(entries["sbin/modprobe"].Data)); // the kernel's modprobe is the agent

        // Every module of the kernel, with its modules.dep, on the read-only modules disk.
        Assert.NotNull(image.ModulesDiskPath);
        var dep = await Cmd("debugfs", "-R", "cat /modules.dep", image.ModulesDiskPath);
        Assert.Equal(FakeDebian.ModulesDep.Trim(), dep.Trim());
        Assert.Contains("jbd2.ko", await Cmd("debugfs", "-R", "ls -l /kernel/fs/jbd2", image.ModulesDiskPath));
        Assert.Equal(0x81EDu, entries["init"].Mode);
        Assert.Equal(string.Concat(modules.Select(m => m + "\n")), Encoding.UTF8.GetString(entries["etc/moat/modules"].Data));
        Assert.DoesNotContain("hid", Encoding.UTF8.GetString(entries["etc/moat/modules"].Data), StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync("/lib64/ld-linux-x86-64.so.2"), entries["lib64/ld-linux-x86-64.so.2"].Data);
        Assert.Equal(0x81A4u & 0xF000, entries["lib/x86_64-linux-gnu/libc.so.6"].Mode & 0xF000); // a regular file, not a link
        Assert.Equal(0x43FFu, entries["tmp"].Mode); // drwxrwxrwt
        // libseccomp is opened at run time (not in the agent's NEEDED list) and must be there, under its soname.
        Assert.Equal(await File.ReadAllBytesAsync("/lib/x86_64-linux-gnu/libseccomp.so.2"), entries["lib/x86_64-linux-gnu/libseccomp.so.2"].Data);

        var listing = Shell.Sh($"gzip -dc '{image.InitrdPath}' | cpio -it --quiet");
        Assert.Equal(entries.Count, listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Manifest_records_the_inputs()
    {
        var image = await Builder().BuildAsync(null, CancellationToken.None);

        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(image.Directory, "manifest.json")));
        var root = json.RootElement;
        var key = root.GetProperty("key").GetString()!;
        Assert.Equal(64, key.Length);
        Assert.Equal(key[..16], Path.GetFileName(image.Directory));
        Assert.Equal(FakeDebian.KernelVersion, root.GetProperty("kernelVersion").GetString());
        Assert.Equal(_debian.FileName, root.GetProperty("kernelPackage").GetString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(_agent))), root.GetProperty("agentSha256").GetString());
        Assert.Equal(GuestBuildOptions.DefaultModules, root.GetProperty("modules").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("vmlinux", root.GetProperty("vmlinux").GetString());
        Assert.Equal("initrd.img", root.GetProperty("initrd").GetString());
        Assert.True(root.GetProperty("createdUtc").GetDateTime() > DateTime.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public async Task Module_list_change_rebuilds()
    {
        var first = await Builder().BuildAsync(null, CancellationToken.None);
        var second = await Builder(modules: ["virtio_pci", "hid"]).BuildAsync(null, CancellationToken.None);

        Assert.True(second.Rebuilt);
        Assert.NotEqual(first.Directory, second.Directory);
    }

    [Fact]
    public async Task A_changed_runtime_library_rebuilds()
    {
        var libDir = Directory.CreateDirectory(_dir.Combine("lib")).FullName;
        var copy = Path.Combine(libDir, "libseccomp.so.2");
        File.Copy("/lib/x86_64-linux-gnu/libseccomp.so.2", copy);
        var first = await Builder(libraryDirectories: [libDir]).BuildAsync(null, CancellationToken.None);
        Assert.False((await Builder(libraryDirectories: [libDir]).BuildAsync(null, CancellationToken.None)).Rebuilt);

        // A libseccomp security update: same soname, new bytes.
        await File.AppendAllTextAsync(copy, "update");
        var second = await Builder(libraryDirectories: [libDir]).BuildAsync(null, CancellationToken.None);

        Assert.True(second.Rebuilt);
        Assert.NotEqual(first.Directory, second.Directory);
        var entries = ReadInitrd(second.InitrdPath).ToDictionary(e => e.Name);
        Assert.Equal(await File.ReadAllBytesAsync(copy), entries[copy.TrimStart('/')].Data);
    }

    [Fact]
    public async Task Missing_runtime_library_names_its_package()
    {
        var empty = Directory.CreateDirectory(_dir.Combine("nolib")).FullName;

        var e = await Assert.ThrowsAsync<GuestImageException>(() => Builder(libraryDirectories: [empty]).BuildAsync(null, CancellationToken.None));

        Assert.Equal($"libseccomp.so.2, which the agent opens at run time, is not in {empty}: install it with 'apt-get install libseccomp2'", e.Message);
    }

    [Fact]
    public async Task Given_kernel_deb_needs_no_apt()
    {
        var deb = _dir.Combine(_debian.FileName);
        await File.WriteAllTextAsync(deb, "deb");

        var image = await Builder(kernelDeb: deb).BuildAsync(null, CancellationToken.None);

        Assert.True(image.Rebuilt);
        Assert.Equal(0, _debian.Runner.Count("apt"));
        Assert.True(Directory.Exists(Path.Combine(_dataDir, "cache", FakeDebian.Package)));
    }

    [Fact]
    public async Task Missing_package_lists_trigger_one_apt_get_update()
    {
        _debian.ListsMissing = true;

        var image = await Builder().BuildAsync(null, CancellationToken.None);

        Assert.True(image.Rebuilt);
        Assert.Equal(1, _debian.Runner.Count("apt-get update"));
    }

    [Fact]
    public async Task Unreachable_mirror_gives_a_one_line_error()
    {
        _debian.MirrorDown = true;

        var e = await Assert.ThrowsAsync<GuestImageException>(() => Builder().BuildAsync(null, CancellationToken.None));

        Assert.StartsWith($"apt-get download {FakeDebian.Package} failed (exit 100): E: Failed to fetch", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("check that Debian's package mirror is reachable and that apt's sources list it", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Null(GuestImage.TryLoadCurrent(_dataDir));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_dataDir, "cache")));
    }

    [Fact]
    public async Task Missing_depmod_names_kmod()
    {
        _debian.Runner.Missing("depmod");

        var e = await Assert.ThrowsAsync<GuestImageException>(() => Builder().BuildAsync(null, CancellationToken.None));

        Assert.Equal("'depmod' not found: install it with 'apt-get install kmod'", e.Message);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dataDir, "guest")));
    }

    [Fact]
    public async Task Missing_agent_is_reported()
    {
        File.Delete(_agent);

        var e = await Assert.ThrowsAsync<GuestImageException>(() => Builder().BuildAsync(null, CancellationToken.None));

        Assert.Contains(_agent, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TryLoadCurrent_is_null_without_an_image_or_with_a_damaged_one()
    {
        Assert.Null(GuestImage.TryLoadCurrent(_dataDir));

        var image = await Builder().BuildAsync(null, CancellationToken.None);
        Assert.NotNull(GuestImage.TryLoadCurrent(_dataDir));

        File.Delete(image.InitrdPath);
        Assert.Null(GuestImage.TryLoadCurrent(_dataDir));

        // A damaged image with the right key is rebuilt rather than reused.
        var rebuilt = await Builder().BuildAsync(null, CancellationToken.None);
        Assert.True(rebuilt.Rebuilt);
        Assert.NotNull(GuestImage.TryLoadCurrent(_dataDir));
    }

    [Fact]
    public void Key_depends_on_every_input()
    {
        string[] libs = ["/lib/libseccomp.so.2 11"];
        var key = GuestImageBuilder.ComputeKey("k.deb", "aa", ["a", "b"], libs);

        Assert.NotEqual(key, GuestImageBuilder.ComputeKey("k2.deb", "aa", ["a", "b"], libs));
        Assert.NotEqual(key, GuestImageBuilder.ComputeKey("k.deb", "ab", ["a", "b"], libs));
        Assert.NotEqual(key, GuestImageBuilder.ComputeKey("k.deb", "aa", ["b", "a"], libs));
        Assert.NotEqual(key, GuestImageBuilder.ComputeKey("k.deb", "aa", ["a", "b"], ["/lib/libseccomp.so.2 12"]));
        Assert.NotEqual(key, GuestImageBuilder.ComputeKey("k.deb", "aa", ["a", "b"], []));
        Assert.Equal(key, GuestImageBuilder.ComputeKey("k.deb", "aa", ["a", "b"], libs));
    }

    internal static List<CpioEntry> ReadInitrd(string path)
    {
        using var decompressed = new MemoryStream();
        using (var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
        {
            gzip.CopyTo(decompressed);
        }

        return CpioParser.Parse(decompressed.ToArray());
    }

    /// <summary>IProgress that records synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    internal sealed class SyncProgress(List<GuestBuildProgress> steps) : IProgress<GuestBuildProgress>
    {
        public void Report(GuestBuildProgress value) => steps.Add(value);
    }
}
