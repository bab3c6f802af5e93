using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>
/// Watches a VM over QMP for the faults that stop a guest for good: QEMU's own <c>STOP</c> on an
/// accelerator error (<c>internal-error</c>), <c>GUEST_PANICKED</c> (pvpanic), a guest shutdown or
/// reset. <see cref="Fault"/> completes with the first one and never otherwise; a stop Moat asked
/// for (pause, save) is told apart by <c>query-status</c>. It costs nothing while the VM runs: it
/// only reads events QEMU sends anyway.
/// </summary>
public sealed class VmWatch : IAsyncDisposable
{
    private readonly QmpClient _qmp;
    private readonly TaskCompletionSource<VmFault> _fault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public VmWatch(QmpClient qmp)
    {
        _qmp = qmp;
        _loop = Task.Run(() => WatchAsync(_stop.Token));
    }

    /// <summary>Completes with the first fault seen; never completes while the VM is healthy.</summary>
    public Task<VmFault> Fault => _fault.Task;

    /// <summary>
    /// Asks QEMU for its run state now and reports a fault it shows, for a fault that happened
    /// before QMP was connected (its event went to nobody). Returns the fault, or null.
    /// </summary>
    public async Task<VmFault?> CheckNowAsync(CancellationToken ct)
    {
        try
        {
            if (VmFault.FromStatus(await _qmp.QueryStatusAsync(ct).ConfigureAwait(false)) is { } fault)
            {
                _fault.TrySetResult(fault);
            }
        }
        catch (Exception e) when (e is IOException or QmpException or QmpProtocolException)
        {
            // QEMU is going away: its exit is the fault the caller sees
        }
        return _fault.Task.IsCompleted ? await _fault.Task.ConfigureAwait(false) : null;
    }

    private async Task WatchAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var e in _qmp.Events.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (Classify(e) is { } fault)
                {
                    _fault.TrySetResult(fault);
                }
                else if (e.Name == "STOP")
                {
                    await CheckNowAsync(ct).ConfigureAwait(false);
                }
                if (_fault.Task.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>The fault an event reports by itself, or null (STOP needs a query-status to tell).</summary>
    internal static VmFault? Classify(QmpEvent e)
    {
        switch (e.Name)
        {
            case "GUEST_PANICKED":
            case "GUEST_CRASHLOADED":
                return new VmFault(VmFaultKind.GuestPanicked, "the guest kernel panicked (QMP " + e.Name + ")");
            case "SHUTDOWN":
            case "RESET":
                if (!Bool(e.Data, "guest"))
                {
                    return null; // quit, a signal, or Moat's own request
                }
                var reason = String(e.Data, "reason") ?? "unknown";
                return reason == "guest-panic"
                    ? new VmFault(VmFaultKind.GuestPanicked, "the guest kernel panicked (QMP SHUTDOWN reason guest-panic)")
                    : new VmFault(VmFaultKind.Shutdown, $"the guest crashed or panicked: it {(e.Name == "RESET" ? "reset" : "shut down")} on its own (QMP {e.Name} reason {reason})");
            default:
                return null;
        }
    }

    private static bool Bool(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string? String(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}
