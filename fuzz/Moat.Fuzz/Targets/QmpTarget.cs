using Moat.Hypervisor;

namespace Moat.Fuzz.Targets;

/// <summary>
/// QMP as a compromised QEMU could speak it: the input is what QEMU sends, line by line (greeting,
/// replies, events). <see cref="QmpClient"/> connects (greeting, <c>qmp_capabilities</c>), then runs
/// the commands Moat sends (<see cref="Script"/>) and hands their answers to the host code that
/// reads them (<see cref="VmFault"/>, <see cref="CpuSlots"/>, the migration status); every event
/// goes through <see cref="VmWatch"/>'s classification. Rejections: <see cref="QmpException"/> (an
/// error reply) and <see cref="IOException"/> (<see cref="QmpProtocolException"/>, or the connection's end).
/// </summary>
internal sealed class QmpTarget : FuzzTarget
{
    /// <summary>The commands after <c>qmp_capabilities</c> (id 1), with ids 2, 3, ... in this order.</summary>
    public static readonly string[] Script = ["query-status", "query-hotpluggable-cpus", "query-migrate", "stop", "cont"];

    public override string Name => "qmp";

    public override string Description =>
        "QEMU's bytes -> QmpLineReader, QmpClient greeting/replies/events, VmWatch, CpuSlots, query-status/query-migrate readers; QmpException, IOException";

    protected override void Execute(byte[] input) => RunAsync(async () =>
    {
        var stream = new QmpPeerStream(input);
        QmpClient client;
        try
        {
            client = await QmpClient.ConnectAsync(stream, CancellationToken.None);
        }
        catch (Exception e) when (IsRejection(e))
        {
            if (Verbose)
            {
                Console.Error.WriteLine($"handshake rejected: {e.GetType().Name}: {e.Message}");
            }

            return;
        }

        await using (client)
        {
            var ct = CancellationToken.None;
            var status = client.QueryStatusAsync(ct);
            var cpus = client.ExecuteAsync("query-hotpluggable-cpus", null, ct);
            var migration = client.ExecuteAsync("query-migrate", null, ct);
            Task[] commands = [status, cpus, migration, client.StopAsync(ct), client.ContinueAsync(ct)];
            try
            {
                _ = VmFault.FromStatus(await status);
                foreach (var slot in CpuSlots.Free(await cpus).Take(4))
                {
                    _ = slot.DeviceId;
                }

                _ = MigrationStatus.Read(await migration);
                await commands[3];
                await commands[4];
            }
            catch (Exception e) when (IsRejection(e))
            {
                // the rest fail the same way once the connection is gone
                if (Verbose)
                {
                    Console.Error.WriteLine($"rejected: {e.GetType().Name}: {e.Message}");
                }
            }
            finally
            {
                stream.ReleaseAll();
                await Task.WhenAll(commands).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await client.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (client.Completion.Exception?.InnerException is { } reason && !IsRejection(reason))
            {
                throw new FuzzContractException("the QMP connection closed for an undocumented reason", reason);
            }

            while (client.Events.TryRead(out var e))
            {
                _ = VmWatch.Classify(e);
            }
        }
    });

    protected override bool IsRejection(Exception e) => e is QmpException or IOException;
}
