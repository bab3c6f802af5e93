using System.Diagnostics;

namespace Moat.Hypervisor.Tests;

/// <summary>
/// The VM fault watch against a scripted QMP peer: QEMU's STOP on a KVM internal error, a guest
/// panic and a guest shutdown are faults, seen within a second; Moat's own pause and quit are not.
/// </summary>
public sealed class VmWatchTests
{
    private static readonly TimeSpan Timeout = FakeQmpServer.Timeout;

    private static async Task<(FakeQmpServer Server, QmpClient Client)> ConnectAsync()
    {
        var (server, stream) = await FakeQmpServer.PairAsync();
        var connecting = QmpClient.ConnectAsync(stream, CancellationToken.None);
        await server.HandshakeAsync();
        return (server, await connecting.WaitAsync(Timeout));
    }

    [Fact]
    public async Task StopWithInternalErrorIsAFaultWithinASecond()
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        var clock = Stopwatch.StartNew();
        await server.SendEventAsync("STOP", "{}");
        var query = await server.ExpectAsync("query-status");
        await server.ReplyAsync(query, """{"status": "internal-error", "singlestep": false, "running": false}""");
        var fault = await watch.Fault.WaitAsync(Timeout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.Equal(VmFaultKind.InternalError, fault.Kind);
        Assert.Contains("internal-error", fault.Detail);
    }

    [Fact]
    public async Task GuestPanickedIsAFault()
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        await server.SendEventAsync("GUEST_PANICKED", """{"action": "pause", "info": {"type": "hyper-v"}}""");
        var fault = await watch.Fault.WaitAsync(Timeout);
        Assert.Equal(VmFaultKind.GuestPanicked, fault.Kind);
    }

    [Theory]
    [InlineData("SHUTDOWN", "guest-shutdown", VmFaultKind.Shutdown)]
    [InlineData("SHUTDOWN", "guest-reset", VmFaultKind.Shutdown)]
    [InlineData("SHUTDOWN", "guest-panic", VmFaultKind.GuestPanicked)]
    [InlineData("RESET", "guest-reset", VmFaultKind.Shutdown)]
    public async Task WhatTheGuestDoesOnItsOwnIsAFault(string name, string reason, VmFaultKind kind)
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        await server.SendEventAsync(name, $$"""{"guest": true, "reason": "{{reason}}"}""");
        var fault = await watch.Fault.WaitAsync(Timeout);
        Assert.Equal(kind, fault.Kind);
        Assert.Contains(reason, fault.Detail);
    }

    [Fact]
    public async Task MoatsOwnPauseAndQuitAreNotFaults()
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        await server.SendEventAsync("STOP", "{}");
        var query = await server.ExpectAsync("query-status");
        await server.ReplyAsync(query, """{"status": "paused", "singlestep": false, "running": false}""");
        await server.SendEventAsync("SHUTDOWN", """{"guest": false, "reason": "host-qmp-quit"}""");
        // A later fault still shows: the watch is still listening after the two.
        await server.SendEventAsync("GUEST_PANICKED", """{"action": "pause"}""");
        var fault = await watch.Fault.WaitAsync(Timeout);
        Assert.Equal(VmFaultKind.GuestPanicked, fault.Kind);
    }

    [Fact]
    public async Task AFaultBeforeTheWatchStartedIsFoundByAskingOnce()
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        var checking = watch.CheckNowAsync(CancellationToken.None);
        var query = await server.ExpectAsync("query-status");
        await server.ReplyAsync(query, """{"status": "internal-error", "singlestep": false, "running": false}""");
        var fault = await checking.WaitAsync(Timeout);
        Assert.NotNull(fault);
        Assert.Equal(VmFaultKind.InternalError, fault.Kind);
        Assert.True(watch.Fault.IsCompleted);
    }

    [Fact]
    public async Task AHealthyVmHasNoFault()
    {
        var (server, client) = await ConnectAsync();
        await using var _ = server;
        await using var __ = client;
        await using var watch = new VmWatch(client);
        var checking = watch.CheckNowAsync(CancellationToken.None);
        var query = await server.ExpectAsync("query-status");
        await server.ReplyAsync(query, """{"status": "running", "singlestep": false, "running": true}""");
        Assert.Null(await checking.WaitAsync(Timeout));
        await server.SendEventAsync("RESUME", "{}");
        Assert.False(await Task.WhenAny(watch.Fault, Task.Delay(300)) == watch.Fault);
    }

    [Theory]
    [InlineData("internal-error", VmFaultKind.InternalError)]
    [InlineData("guest-panicked", VmFaultKind.GuestPanicked)]
    [InlineData("shutdown", VmFaultKind.Shutdown)]
    [InlineData("io-error", VmFaultKind.InternalError)]
    public void FaultStatuses(string status, VmFaultKind kind) => Assert.Equal(kind, VmFault.FromStatus(status)!.Kind);

    [Theory]
    [InlineData("running")]
    [InlineData("paused")]
    [InlineData("prelaunch")]
    [InlineData("inmigrate")]
    [InlineData("postmigrate")]
    [InlineData("finish-migrate")]
    public void HealthyStatuses(string status) => Assert.Null(VmFault.FromStatus(status));
}
