using System.Diagnostics;
using System.Globalization;
using Moat.Hypervisor;
using Moat.Protocols.Agent;

namespace Moat.Runtime;

/// <summary>
/// The real <see cref="IAcceleratorHost"/>: /dev/kvm, and canary boots of the installed guest in
/// the VM Moat uses (same machine type, firmware, CPU model, memory and vCPUs), without shares or
/// NICs, until the agent answers.
/// </summary>
public sealed class QemuAcceleratorHost : IAcceleratorHost
{
    private readonly RuntimeOptions _options;
    private readonly string _kernel;
    private readonly string _initrd;
    private readonly AcceleratorVerdicts _verdicts;

    public QemuAcceleratorHost(RuntimeOptions options, string kernel, string initrd, AcceleratorVerdicts verdicts)
    {
        _options = options;
        _kernel = kernel;
        _initrd = initrd;
        _verdicts = verdicts;
    }

    /// <summary>The selection of <paramref name="options"/> for its installed guest image, logging to <paramref name="log"/>.</summary>
    public static AcceleratorSelection Selection(RuntimeOptions options, string kernel, string initrd, PhaseLog log)
    {
        var verdicts = new AcceleratorVerdicts(options.AcceleratorDir);
        return new AcceleratorSelection(options.Accelerator, verdicts, new QemuAcceleratorHost(options, kernel, initrd, verdicts), log);
    }

    public AccelProbeResult ProbeKvmDevice() => AcceleratorProbe.Probe(_options.KvmDevice);

    public string VerdictKey() => AcceleratorVerdicts.Key(_options, _kernel, _initrd);

    /// <summary>Keeps a failed canary's console and QEMU's messages beside the verdicts (the last one per accelerator).</summary>
    private async Task<string?> KeepConsoleLogAsync(QemuHypervisor vm, Accel accel)
    {
        var text = await vm.CollectLogAsync(CancellationToken.None).ConfigureAwait(false);
        return LogKeeper.Keep(_verdicts.Directory, $"canary-{accel.ToString().ToLowerInvariant()}", text);
    }

    public async Task<CanaryOutcome> RunCanaryAsync(Accel accel, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var dir = Path.Combine(_verdicts.EnsureDirectory(), string.Create(CultureInfo.InvariantCulture,
            $"canary-{accel.ToString().ToLowerInvariant()}-{Environment.ProcessId}-{Random.Shared.Next():x8}"));
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var share = Path.Combine(dir, "share");
        Directory.CreateDirectory(share);
        var config = GuestVmConfig.Base(_options, _kernel, _initrd, accel, _options.MemoryMiB, _options.Vcpus,
            Path.Combine(dir, "qmp.sock"), Path.Combine(dir, "agent.sock"), "moat-canary");
        // Everything, QEMU's start included, within the deadline and a little more.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout + TimeSpan.FromSeconds(5));
        var vm = new QemuHypervisor(GuestVmConfig.HelperCommand(_options), share, []);
        try
        {
            await vm.StartAsync(config, deadline.Token).ConfigureAwait(false);
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return new CanaryOutcome(false, $"QEMU took longer than {timeout.TotalSeconds:F0} s to start", clock.ElapsedMilliseconds);
            }
            var agent = new AgentClient(await AgentConnection.ConnectAsync(config.AgentSocket, vm, deadline.Token).ConfigureAwait(false));
            await using (agent.ConfigureAwait(false))
            {
                await AgentConnection.CheckAsync(agent, vm, left, deadline.Token).ConfigureAwait(false);
            }
            return new CanaryOutcome(true, $"the guest's agent answered {clock.ElapsedMilliseconds} ms after QEMU started", clock.ElapsedMilliseconds);
        }
        catch (RuntimeException e)
        {
            var kept = await KeepConsoleLogAsync(vm, accel).ConfigureAwait(false);
            return new CanaryOutcome(false, e.Fault is { } f ? vm.Describe(f, kept) : e.Message, clock.ElapsedMilliseconds);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new CanaryOutcome(false, $"the canary did not finish within {timeout.TotalSeconds:F0} s", clock.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever else went wrong (QMP, sockets, the launcher), this accelerator did not run the guest.
            return new CanaryOutcome(false, e.Message.ReplaceLineEndings(" "), clock.ElapsedMilliseconds);
        }
        finally
        {
            await vm.DisposeAsync().ConfigureAwait(false);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
