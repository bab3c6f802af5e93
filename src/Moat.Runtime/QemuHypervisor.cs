using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>QEMU behind <see cref="IHypervisor"/>: launched through <see cref="VmmProcess"/>, driven over QMP.</summary>
public sealed class QemuHypervisor : IHypervisor
{
    private readonly IReadOnlyList<string> _helperCommand;
    private readonly string _shareDir;
    private readonly IReadOnlyList<ShareBind> _binds;
    private VmmProcess? _vmm;
    private QmpClient? _qmp;

    /// <param name="privateNetwork">No pod: QEMU gets a network namespace of its own, where a tap is created for each NIC of the config.</param>
    public QemuHypervisor(IReadOnlyList<string> helperCommand, string shareDir, IReadOnlyList<ShareBind> binds,
        PodNetwork? network = null, bool privateNetwork = false)
    {
        _privateNetwork = privateNetwork;
        _network = network;
        _helperCommand = helperCommand;
        _shareDir = shareDir;
        _binds = binds;
    }

    /// <summary>The fd the launcher opens the first tap onto (the next ones follow).</summary>
    public const int FirstTapFd = 10;

    private readonly PodNetwork? _network;
    private readonly bool _privateNetwork;

    public int Pid => _vmm?.Pid ?? 0;


    public Task ExitTask => _vmm?.Exit ?? Task.CompletedTask;

    public async Task StartAsync(VmConfig config, CancellationToken ct)
    {
        var args = QemuCommandLine.Build(config);
        var spec = new VmmLaunchSpec(Environment.ProcessId, _shareDir, _binds, config.QemuBinary, args)
        {
            IncomingStatePath = config.IncomingStatePath,
            Confine = config.Sandboxed,
            NetnsPath = _network?.NetnsPath,
            Taps = _network?.Interfaces.Select((i, n) => new TapFd(i.TapName, FirstTapFd + n)).ToList()
                ?? (_privateNetwork ? config.Nics.Select((nic, n) => new TapFd($"tap{n}_moat", nic.Fd)).ToList() : []),
            PrivateNetwork = _privateNetwork,
        };
        _vmm = VmmProcess.Start(_helperCommand, spec);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_vmm.Exit.IsCompleted)
            {
                throw new RuntimeException(RuntimeErrorKind.GuestFailure,
                    $"qemu exited at start (status {_vmm.Exit.Result}): {LastLine()}");
            }
            try
            {
                _qmp = await QmpClient.ConnectAsync(config.QmpSocket, ct).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException && DateTime.UtcNow < deadline)
            {
                await Task.WhenAny(_vmm.Exit, Task.Delay(5, ct)).ConfigureAwait(false);
            }
        }
        _watch = new VmWatch(_qmp);
        _consoleRingBytes = config.ConsoleRingBytes;
        _ = KillOnFaultAsync(_watch, _vmm);
        // A fault before QMP was connected sent its event to nobody: ask once.
        await _watch.CheckNowAsync(ct).ConfigureAwait(false);
        if (config.IncomingStatePath is { } state)
        {
            await RestoreAsync(state, ct).ConfigureAwait(false);
        }
    }

    private VmWatch? _watch;

    /// <summary>
    /// A VM that QEMU stopped on an error, or whose guest panicked, never runs again: QEMU is killed
    /// so that everyone waiting on the VM's exit (containers, the shim) sees it go.
    /// </summary>
    private async Task KillOnFaultAsync(VmWatch watch, VmmProcess vmm)
    {
        await watch.Fault.ConfigureAwait(false);
        // QEMU pauses on a guest panic or shutdown (-action): what the console said goes first.
        await ReadConsoleAsync(CancellationToken.None).ConfigureAwait(false);
        vmm.Kill();
    }

    /// <summary>
    /// Completes when the VM can no longer run its guest: QEMU stopped it on an error, the guest
    /// panicked or shut down, or QEMU exited. Never completes while the VM is healthy.
    /// </summary>
    public Task<VmFault> Fault => _fault ??= WatchFaultAsync();

    private Task<VmFault>? _fault;

    private async Task<VmFault> WatchFaultAsync()
    {
        var exit = _vmm?.Exit ?? Task.FromResult(0);
        var watched = _watch?.Fault ?? new TaskCompletionSource<VmFault>().Task;
        if (await Task.WhenAny(watched, exit).ConfigureAwait(false) == watched)
        {
            return await watched.ConfigureAwait(false);
        }
        // QMP delivers a panic or shutdown event before the socket closes: prefer its words.
        if (await Task.WhenAny(watched, Task.Delay(100)).ConfigureAwait(false) == watched)
        {
            return await watched.ConfigureAwait(false);
        }
        return new VmFault(VmFaultKind.Exited, $"QEMU exited (status {await exit.ConfigureAwait(false)})");
    }

    /// <summary>
    /// One line for a fault: what happened, QEMU's own first lines of report (e.g. "KVM internal
    /// error. Suberror: 1 / emulation failure") and where the guest console was logged.
    /// </summary>
    /// <remarks>The console log is named only when <paramref name="consoleLog"/> is given: a sandbox keeps its log elsewhere when it fails, and names that copy.</remarks>
    public string Describe(VmFault fault, string? consoleLog = null)
    {
        var report = QemuReport();
        return fault.Detail + (report.Length > 0 ? $"; QEMU said: \"{report}\"" : "") + (consoleLog is null ? "" : $"; console log: {consoleLog}");
    }

    /// <summary>The first lines QEMU wrote to its stderr (up to 3, each cut at 160 characters, control characters escaped), joined by " / ".</summary>
    internal string QemuReport()
    {
        var lines = (_vmm?.Output.Head(4096) ?? "").Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0).Take(3)
            .Select(l => GuestText.OneLine(l, 160));
        return string.Join(" / ", lines);
    }

    /// <summary>
    /// Everything the guest wrote to its console so far (the last <see cref="VmConfig.ConsoleRingBytes"/>),
    /// read over QMP; what was read before stays when QEMU can no longer say.
    /// </summary>
    /// <remarks>
    /// QEMU's <c>ringbuf-read</c> consumes what it returns, so reads are serialised and each appends
    /// to the text kept here: a fault handler and a log keeper reading at once both see all of it.
    /// </remarks>
    public async Task<string> ReadConsoleAsync(CancellationToken ct)
    {
        await _consoleLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_qmp is null || _vmm is null || _vmm.Exit.IsCompleted)
            {
                return _console;
            }
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(TimeSpan.FromSeconds(2));
                var data = await _qmp.ExecuteAsync("ringbuf-read", new System.Text.Json.Nodes.JsonObject
                {
                    ["device"] = QemuCommandLine.ConsoleChardev,
                    ["size"] = _consoleRingBytes,
                    ["format"] = "base64",
                }, deadline.Token).ConfigureAwait(false);
                var text = _console + System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(data.GetString() ?? ""));
                _console = text.Length > _consoleRingBytes ? text[^_consoleRingBytes..] : text;
            }
            catch (Exception e) when (e is IOException or QmpException or QmpProtocolException or OperationCanceledException or FormatException or InvalidOperationException)
            {
                // QEMU is gone or not answering: what was read before is all there is.
            }
            return _console;
        }
        finally
        {
            _consoleLock.Release();
        }
    }

    private readonly SemaphoreSlim _consoleLock = new(1, 1);
    private string _console = "";
    private int _consoleRingBytes = VmConfig.DefaultConsoleRingBytes;

    /// <summary>The console and QEMU's own messages, for a kept log (read before QEMU is stopped).</summary>
    public async Task<string> CollectLogAsync(CancellationToken ct)
    {
        var console = await ReadConsoleAsync(ct).ConfigureAwait(false);
        var qemu = _vmm?.Output.ToString() ?? "";
        return console + (qemu.Length > 0 ? "\n--- qemu ---\n" + qemu : "");
    }

    /// <summary>
    /// Reads the saved state of <see cref="VmConfig.IncomingStatePath"/>. The VM stays paused (it was
    /// saved paused): the caller connects to the agent first, then resumes it, so the restored
    /// virtio-serial port finds its host connected, as it was saved, and never reports a hang-up.
    /// </summary>
    private async Task RestoreAsync(string statePath, CancellationToken ct)
    {
        try
        {
            await IgnoreSharedMemoryAsync(ct).ConfigureAwait(false);
            // The launcher opened the state onto this fd: a sandboxed QEMU starts no process to read it.
            await ExecuteAsync(QmpCommand.MigrateIncomingFromFd(VmConfig.IncomingStateFd), ct).ConfigureAwait(false);
            await WaitForMigrationAsync(statePath, "restoring the VM state from", TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QmpException or IOException or InvalidOperationException)
        {
            // QEMU exits when a state does not load: its own words are in its log.
            await Task.WhenAny(_vmm!.Exit, Task.Delay(TimeSpan.FromSeconds(1), ct)).ConfigureAwait(false);
            throw new RuntimeException(RuntimeErrorKind.GuestFailure,
                $"restoring the VM state from {statePath} failed: {(_vmm.Exit.IsCompleted ? LastLine() : e.Message)}", e);
        }
    }

    private async Task WaitForMigrationAsync(string path, string what, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_vmm!.Exit.IsCompleted)
            {
                throw new RuntimeException(RuntimeErrorKind.GuestFailure, $"{what} {path} failed: qemu exited: {LastLine()}");
            }
            var info = await ExecuteAsync(QmpCommand.QueryMigrate, ct).ConfigureAwait(false);
            var (status, error) = MigrationStatus.Read(info);
            if (status == "completed")
            {
                return;
            }
            if (status is "failed" or "cancelled" || DateTime.UtcNow > deadline)
            {
                var why = error ?? status ?? "no status";
                throw new RuntimeException(RuntimeErrorKind.GuestFailure, $"{what} {path} failed: {why}");
            }
            await Task.Delay(5, ct).ConfigureAwait(false);
        }
    }

    private Task IgnoreSharedMemoryAsync(CancellationToken ct) => ExecuteAsync(QmpCommand.IgnoreSharedMemory, ct);

    private Task<System.Text.Json.JsonElement> ExecuteAsync(QmpCommand command, CancellationToken ct) =>
        Qmp.ExecuteAsync(command.Name, command.Arguments, ct);

    public Task ResumeAsync(CancellationToken ct) => Qmp.ContinueAsync(ct);

    /// <summary>Binds each source under the share directory inside QEMU's private mount namespace, where 9p serves it.</summary>
    public void Share(string containerId, IReadOnlyList<ShareBind> binds)
    {
        foreach (var b in binds)
        {
            Moat.Linux.CrossNamespaceMount.Bind(Pid, b.Source, _shareDir, b.Target, b.ReadOnly);
        }
    }

    public void Unshare(string containerId) => Moat.Linux.CrossNamespaceMount.UnmountTree(Pid, _shareDir, containerId);

    /// <summary>Plugs a RAM DIMM of <paramref name="sizeMiB"/> (the guest onlines it: memhp_default_state=online).</summary>
    public async Task HotplugMemoryAsync(string id, int sizeMiB, CancellationToken ct)
    {
        await CommandAsync(QmpCommand.MemoryBackend(id, sizeMiB), ct).ConfigureAwait(false);
        await CommandAsync(QmpCommand.Dimm(id), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A QMP command on a running VM; when QEMU dies under it, the error says how (its exit status,
    /// 128 + n for signal n, and its last words) rather than only that the connection was lost.
    /// </summary>
    private async Task<System.Text.Json.JsonElement> CommandAsync(QmpCommand command, CancellationToken ct)
    {
        try
        {
            return await ExecuteAsync(command, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QmpException or IOException && _vmm is not null)
        {
            if (await Task.WhenAny(_vmm.Exit, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false) != _vmm.Exit)
            {
                throw;
            }
            throw new RuntimeException(RuntimeErrorKind.GuestFailure,
                $"QMP command '{command.Name}' failed: QEMU exited under it (status {await _vmm.Exit.ConfigureAwait(false)}): {LastLine()}", e);
        }
    }

    /// <summary>
    /// Plugs up to <paramref name="count"/> vCPUs into free slots of <c>-smp maxcpus</c> (lowest ids
    /// first) and returns how many it plugged. The guest still has to online them.
    /// </summary>
    public async Task<int> HotplugCpusAsync(int count, CancellationToken ct)
    {
        var slots = await CommandAsync(QmpCommand.QueryHotpluggableCpus, ct).ConfigureAwait(false);
        var free = CpuSlots.Free(slots).Take(count).ToList();
        foreach (var slot in free)
        {
            await CommandAsync(QmpCommand.Cpu(slot), ct).ConfigureAwait(false);
        }
        return free.Count;
    }

    /// <summary>
    /// Pauses the VM and writes its device state to <paramref name="path"/> (QMP migrate to a file;
    /// file-backed shared RAM is skipped), for <see cref="VmConfig.IncomingStatePath"/>. The VM stays paused.
    /// </summary>
    public async Task SaveStateAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        await Qmp.StopAsync(ct).ConfigureAwait(false);
        await IgnoreSharedMemoryAsync(ct).ConfigureAwait(false);
        await ExecuteAsync(QmpCommand.MigrateToFile(path), ct).ConfigureAwait(false);
        await WaitForMigrationAsync(path, "saving the VM state to", timeout, ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_vmm is not null && !_vmm.Exit.IsCompleted)
        {
            _vmm.Kill();
            await _vmm.Exit.ConfigureAwait(false);
        }
        if (_watch is not null)
        {
            await _watch.DisposeAsync().ConfigureAwait(false);
            _watch = null;
        }
        if (_qmp is not null)
        {
            await _qmp.DisposeAsync().ConfigureAwait(false);
            _qmp = null;
        }
    }

    private QmpClient Qmp => _qmp ?? throw new InvalidOperationException("VM not started");

    /// <summary>The last line QEMU (or its launcher) wrote, for an error message; control characters escaped.</summary>
    internal string LastLine()
    {
        var last = (_vmm?.Output.ToString() ?? "").Split('\n').LastOrDefault(l => l.Trim().Length > 0)?.Trim();
        return last is null ? "(no output)" : GuestText.OneLine(last, 300);
    }
}
