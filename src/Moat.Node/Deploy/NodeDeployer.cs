using Moat.ImageBuilder;
using Moat.Runtime;

namespace Moat.Node.Deploy;

/// <summary>How an install ended.</summary>
public enum DeployOutcome
{
    /// <summary>Moat is installed, containerd serves the handler, the node is labelled ready.</summary>
    Installed,

    /// <summary>The node cannot run VMs: nothing is left installed, the node is labelled unavailable.</summary>
    Refused,
}

/// <summary>
/// What the DaemonSet's pod does on each node (as kata-deploy does for Kata): install Moat's
/// binaries and guest image, check that the node runs VMs (refusing it, labelled, if not), add
/// the CRI handler to containerd's config, restart containerd when that changed, label the node.
/// Every step is idempotent: a second install changes nothing and restarts nothing. Uninstall
/// undoes each step.
/// </summary>
public sealed class NodeDeployer(HostRoot root, DeployLayout layout, INodeHost host, Action<string> log)
{
    public async Task<DeployOutcome> InstallAsync(CancellationToken ct)
    {
        layout.Validate();
        var config = root.File(layout.ContainerdConfig); // a symlinked config is refused before anything is copied
        CheckLinks();
        var copied = CopyBinaries() + CopyGuestImage();
        log(copied > 0 ? $"installed {copied} files under {layout.Prefix} and {layout.GuestRoot}" : $"binaries and guest image already in place under {layout.Prefix}");
        var check = await host.CheckAsync(layout.HostMoat, ct).ConfigureAwait(false);
        if (!check.CanRunVms)
        {
            log($"this node cannot run Moat VMs: {check.Verdict}");
            foreach (var p in check.Problems)
            {
                log("  " + p);
            }
            // Nothing of Moat stays, not even what an earlier install put there: a handler
            // whose shim is gone would fail every pod sent to it.
            await RemoveHandlerAsync(ct).ConfigureAwait(false);
            RemoveFiles();
            await host.LabelAsync(DeployLayout.Unavailable, ct).ConfigureAwait(false);
            log($"nothing left installed; node labelled {DeployLayout.LabelKey}={DeployLayout.Unavailable}");
            return DeployOutcome.Refused;
        }
        log($"moat check: {check.Verdict}");
        var (text, changes) = Installer.EditContainerdConfig(File.Exists(config) ? File.ReadAllText(config) : null, layout.ContainerdConfig,
            ["moat"], untrustedWorkload: false, MoatConfig.DefaultPath);
        ConfigFile.Write(config, layout.ContainerdConfig, text, changes, log);
        if (changes.Count > 0)
        {
            await host.RestartContainerdAsync(ct).ConfigureAwait(false);
            log("containerd restarted");
        }
        await host.LabelAsync(DeployLayout.Ready, ct).ConfigureAwait(false);
        log($"node labelled {DeployLayout.LabelKey}={DeployLayout.Ready}");
        return DeployOutcome.Installed;
    }

    /// <summary>Undoes the install: the handler (containerd restarted), the files, then the label (best effort: the node is clean either way).</summary>
    public async Task UninstallAsync(CancellationToken ct)
    {
        layout.Validate();
        await RemoveHandlerAsync(ct).ConfigureAwait(false);
        RemoveFiles();
        log($"removed Moat's files under {layout.Prefix} and {layout.DataDir} and its links in {layout.LinkDir}");
        try
        {
            await host.LabelAsync(null, ct).ConfigureAwait(false);
            log($"label {DeployLayout.LabelKey} removed");
        }
        catch (RuntimeException e)
        {
            log($"warning: the node's label {DeployLayout.LabelKey} stays: {e.Message}");
        }
    }

    /// <summary>Takes the CRI handler out of containerd's config (restarting containerd when it was there).</summary>
    private async Task RemoveHandlerAsync(CancellationToken ct)
    {
        var config = root.File(layout.ContainerdConfig);
        if (!File.Exists(config))
        {
            return;
        }
        var (text, changes) = Installer.RemoveContainerdHandlers(File.ReadAllText(config), layout.ContainerdConfig, ["moat"]);
        if (changes.Count == 0)
        {
            return;
        }
        ConfigFile.Write(config, layout.ContainerdConfig, text, changes, log);
        File.Delete(config + ConfigFile.BackupSuffix); // the file is as it was before the install
        await host.RestartContainerdAsync(ct).ConfigureAwait(false);
        log("containerd restarted");
    }

    /// <summary>Copies each binary that differs (temp file, then rename: a running shim keeps its old file) and links the called ones.</summary>
    private int CopyBinaries()
    {
        var changed = 0;
        var bin = root.Dir(layout.HostBin);
        foreach (var name in DeployLayout.Binaries)
        {
            changed += CopyIfDifferent(Path.Combine(layout.Artifacts, "bin", name), Path.Combine(bin, name), executable: true);
        }
        var links = root.Dir(layout.LinkDir);
        foreach (var name in DeployLayout.Linked)
        {
            var link = Path.Combine(links, name);
            var target = Path.Combine(layout.HostBin, name);
            if (new FileInfo(link).LinkTarget == target)
            {
                continue;
            }
            File.Delete(link); // a link of an earlier install, elsewhere (CheckLinks refused a file)
            File.CreateSymbolicLink(link, target);
            changed++;
        }
        return changed;
    }

    /// <summary>A program of the node's own where a link goes (Moat installed by hand, say) is not the installer's to replace.</summary>
    private void CheckLinks()
    {
        var links = root.Dir(layout.LinkDir);
        foreach (var name in DeployLayout.Linked)
        {
            var existing = new FileInfo(Path.Combine(links, name));
            if (existing.Exists && existing.LinkTarget is null)
            {
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                    $"{Path.Combine(layout.LinkDir, name)} on the node is a file, not the installer's link: remove it (and what installed it) first");
            }
        }
    }

    /// <summary>Copies the image's guest (kernel, initrd, manifest) and makes it the node's current one.</summary>
    private int CopyGuestImage()
    {
        var source = Path.Combine(layout.Artifacts, "guest");
        var image = GuestImage.TryLoadCurrent(layout.Artifacts) ?? throw new RuntimeException(RuntimeErrorKind.MissingDependency,
            $"{source} holds no guest image: build the installer image with 'moat image installer' on a host where 'moat image build' ran");
        var name = Path.GetFileName(image.Directory);
        var guestRoot = root.Dir(layout.GuestRoot);
        var target = root.Dir(Path.Combine(layout.GuestRoot, name));
        var changed = 0;
        foreach (var file in Directory.EnumerateFiles(image.Directory))
        {
            changed += CopyIfDifferent(file, Path.Combine(target, Path.GetFileName(file)), executable: false);
        }
        if (new FileInfo(Path.Combine(guestRoot, GuestImage.CurrentLinkName)).LinkTarget != name)
        {
            GuestImage.MakeCurrent(guestRoot, name);
            changed++;
        }
        return changed;
    }

    private static int CopyIfDifferent(string from, string to, bool executable)
    {
        if (File.Exists(to) && SameContent(from, to))
        {
            return 0;
        }
        var bytes = File.ReadAllBytes(from);
        Moat.Linux.AtomicFile.Write(to, bytes, executable ? Executable : Moat.Linux.AtomicFile.Readable);
        return 1;
    }

    private const UnixFileMode Executable = Moat.Linux.AtomicFile.Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private static bool SameContent(string a, string b) =>
        new FileInfo(a).Length == new FileInfo(b).Length && File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));

    /// <summary>
    /// Removes the links (only those pointing into the prefix), the binaries (then their
    /// directories, when nothing else is in them) and Moat's data directory (guest images,
    /// templates, kept logs: all Moat's).
    /// </summary>
    private void RemoveFiles()
    {
        if (root.Existing(layout.LinkDir) is { } links)
        {
            foreach (var name in DeployLayout.Linked)
            {
                var link = Path.Combine(links, name);
                if (new FileInfo(link).LinkTarget == Path.Combine(layout.HostBin, name))
                {
                    File.Delete(link);
                }
            }
        }
        if (root.Existing(layout.HostBin) is { } bin)
        {
            foreach (var name in DeployLayout.Binaries)
            {
                File.Delete(Path.Combine(bin, name));
            }
        }
        foreach (var dir in new[] { layout.HostBin, layout.Prefix })
        {
            RemoveNamed(dir, recursive: false);
        }
        RemoveNamed(layout.DataDir, recursive: true);
    }

    /// <summary>
    /// Removes a node directory by name from its parent (the /proc/self/fd path of the directory
    /// itself cannot be rmdir'ed); not recursive: only when empty.
    /// </summary>
    private void RemoveNamed(string dir, bool recursive)
    {
        if (root.Existing(Path.GetDirectoryName(dir)!) is not { } parent)
        {
            return;
        }
        var path = Path.Combine(parent, Path.GetFileName(dir));
        if (!Directory.Exists(path) || (!recursive && Directory.EnumerateFileSystemEntries(path).Any()))
        {
            return;
        }
        Directory.Delete(path, recursive);
    }
}
