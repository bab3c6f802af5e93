using Moat.Hypervisor;

namespace Moat.Runtime.Tests;

/// <summary>
/// Which accelerator a VM start takes, on a scripted host: KVM only once a canary booted the guest
/// under it, the verdict cached and computed once, a forced choice honoured or refused fast.
/// </summary>
public sealed class AcceleratorSelectionTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("moat-accel-");
    private readonly List<string> _log = [];

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A host whose /dev/kvm and canary answer as told, counting canary boots.</summary>
    private sealed class FakeHost : IAcceleratorHost
    {
        public bool Device { get; init; } = true;
        public Func<Accel, CanaryOutcome> Canary { get; init; } = _ => new CanaryOutcome(true, "answered in 400 ms", 400);
        public TimeSpan CanaryTakes { get; init; } = TimeSpan.Zero;
        public int Canaries;
        public int Probes;

        public AccelProbeResult ProbeKvmDevice()
        {
            Interlocked.Increment(ref Probes);
            return Device
                ? new AccelProbeResult(Accel.Kvm, "/dev/kvm: KVM API version 12, VM creation works", 12)
                : new AccelProbeResult(Accel.Tcg, "/dev/kvm: No such file or directory", null);
        }

        public string VerdictKey() => "key0";

        public async Task<CanaryOutcome> RunCanaryAsync(Accel accel, TimeSpan timeout, CancellationToken ct)
        {
            Interlocked.Increment(ref Canaries);
            await Task.Delay(CanaryTakes, ct);
            return Canary(accel);
        }
    }

    private static readonly CanaryOutcome KvmInternalError = new(false,
        "QEMU stopped the VM with an internal error (status internal-error); QEMU said: \"KVM internal error. Suberror: 1 / emulation failure\"", 900);

    private AcceleratorSelection Selection(AcceleratorChoice choice, FakeHost host) =>
        new(choice, new AcceleratorVerdicts(_dir.FullName), host, new PhaseLog(_log.Add));

    [Fact]
    public async Task AutoUsesKvmOnceItsCanaryBootedTheGuest()
    {
        var host = new FakeHost();
        var decision = await Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Kvm, decision.Accel);
        Assert.True(decision.MayFallBack);
        Assert.Equal(1, host.Canaries);
    }

    [Fact]
    public async Task AutoFallsBackToTcgWhenKvmFailsItsCanaryAndSaysWhyOnce()
    {
        var host = new FakeHost { Canary = _ => KvmInternalError };
        var decision = await Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Tcg, decision.Accel);
        Assert.Contains("KVM internal error", decision.Reason);
        Assert.Single(_log, l => l.Contains("KVM canary failed", StringComparison.Ordinal) && l.Contains("using TCG", StringComparison.Ordinal));

        // The verdict is cached: a second start runs no canary and logs nothing about it.
        _log.Clear();
        var again = await Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Tcg, again.Accel);
        Assert.Equal(1, host.Canaries);
        Assert.DoesNotContain(_log, l => l.Contains("canary", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConcurrentFirstStartsWaitOnOneCanary()
    {
        var host = new FakeHost { CanaryTakes = TimeSpan.FromMilliseconds(300) };
        var starts = Enumerable.Range(0, 8).Select(_ => Task.Run(() => Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None))).ToList();
        var decisions = await Task.WhenAll(starts).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(decisions, d => Assert.Equal(Accel.Kvm, d.Accel));
        Assert.Equal(1, host.Canaries);
    }

    [Fact]
    public async Task NoKvmDeviceMeansTcgWithoutACanary()
    {
        var host = new FakeHost { Device = false };
        var decision = await Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Tcg, decision.Accel);
        Assert.Equal("/dev/kvm: No such file or directory", decision.Reason);
        Assert.Equal(0, host.Canaries);
    }

    [Fact]
    public async Task TcgIsTakenWithoutLookingAtKvm()
    {
        var host = new FakeHost();
        var decision = await Selection(AcceleratorChoice.Tcg, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Tcg, decision.Accel);
        Assert.False(decision.MayFallBack);
        Assert.Equal(0, host.Probes);
        Assert.Equal(0, host.Canaries);
    }

    [Fact]
    public async Task ForcedKvmThatFailsItsCanaryFailsWithQemusWords()
    {
        var host = new FakeHost { Canary = _ => KvmInternalError };
        var e = await Assert.ThrowsAsync<RuntimeException>(() => Selection(AcceleratorChoice.Kvm, host).DecideAsync(CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.GuestFailure, e.Kind);
        Assert.Contains("hypervisor.accelerator is \"kvm\"", e.Message);
        Assert.Contains("KVM internal error. Suberror: 1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task ForcedKvmWithoutADeviceFailsNamingIt()
    {
        var e = await Assert.ThrowsAsync<RuntimeException>(() => Selection(AcceleratorChoice.Kvm, new FakeHost { Device = false }).DecideAsync(CancellationToken.None));
        Assert.Equal(RuntimeErrorKind.MissingDependency, e.Kind);
        Assert.Contains("/dev/kvm: No such file or directory", e.Message);
    }

    [Fact]
    public async Task ForcedKvmThatWorksIsKvmAndNeverFallsBack()
    {
        var decision = await Selection(AcceleratorChoice.Kvm, new FakeHost()).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Kvm, decision.Accel);
        Assert.False(decision.MayFallBack);
    }

    [Fact]
    public async Task AKvmFaultDuringARealStartMarksKvmUnusable()
    {
        var host = new FakeHost();
        var selection = Selection(AcceleratorChoice.Auto, host);
        var decision = await selection.DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Kvm, decision.Accel);
        selection.ReportKvmFault(decision, "the guest kernel panicked (QMP GUEST_PANICKED)", 700);
        var next = await Selection(AcceleratorChoice.Auto, host).DecideAsync(CancellationToken.None);
        Assert.Equal(Accel.Tcg, next.Accel);
        Assert.Contains("GUEST_PANICKED", next.Reason);
        Assert.Equal(1, host.Canaries);
    }

    [Fact]
    public async Task ABootUnderTcgIsRecordedSoCheckNeedNotBootOne()
    {
        var host = new FakeHost { Device = false };
        var selection = Selection(AcceleratorChoice.Auto, host);
        selection.ReportBooted(Accel.Tcg, 2500);
        var verdict = await selection.VerdictAsync(Accel.Tcg, host.VerdictKey(), CancellationToken.None);
        Assert.True(verdict.Works);
        Assert.Equal("start", verdict.Source);
        Assert.Equal(0, host.Canaries);
    }

    [Fact]
    public void VerdictsAreRootOnly()
    {
        var verdicts = new AcceleratorVerdicts(Path.Combine(_dir.FullName, "v"));
        verdicts.Write(Accel.Kvm, "k", new AcceleratorVerdict("kvm", true, "ok", DateTime.UtcNow, 1, "canary"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(verdicts.Directory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(verdicts.Directory, "k.kvm.json")));
        Assert.True(verdicts.Read(Accel.Kvm, "k")!.Works);
        Assert.Null(verdicts.Read(Accel.Tcg, "k"));
    }

    [Fact]
    public void TheKeyFollowsWhatDecidesIt()
    {
        var files = new[] { "qemu", "vmlinux", "initrd" }.Select(f => Path.Combine(_dir.FullName, f)).ToArray();
        foreach (var f in files)
        {
            File.WriteAllText(f, f);
        }
        var options = new RuntimeOptions { QemuBinary = files[0], Firmware = "" };
        var key = AcceleratorVerdicts.Key(options, files[1], files[2]);
        Assert.Equal(key, AcceleratorVerdicts.Key(options, files[1], files[2]));
        Assert.NotEqual(key, AcceleratorVerdicts.Key(options with { Machine = MachineType.Microvm }, files[1], files[2]));
        File.WriteAllText(files[2], "a rebuilt initrd");
        Assert.NotEqual(key, AcceleratorVerdicts.Key(options, files[1], files[2]));
    }

    [Theory]
    [InlineData("auto", AcceleratorChoice.Auto)]
    [InlineData("kvm", AcceleratorChoice.Kvm)]
    [InlineData("tcg", AcceleratorChoice.Tcg)]
    public void ConfigurationNames(string name, AcceleratorChoice choice)
    {
        Assert.Equal(choice, AcceleratorChoices.Parse(name));
        Assert.Equal(name, choice.Name());
    }

    [Fact]
    public void AnUnknownAcceleratorInTheFileIsAOneLineErrorNamingIt()
    {
        var file = Path.Combine(_dir.FullName, "moat.toml");
        File.WriteAllText(file, "[hypervisor]\naccelerator = \"hvf\"\n");
        var e = Assert.Throws<RuntimeException>(() => MoatConfig.Apply(new RuntimeOptions(), file));
        Assert.Equal($"{file}: hypervisor.accelerator: unknown accelerator \"hvf\" (use \"auto\", \"kvm\" or \"tcg\")", e.Message);
        File.WriteAllText(file, "[hypervisor]\naccelerator = \"tcg\"\n");
        Assert.Equal(AcceleratorChoice.Tcg, MoatConfig.Apply(new RuntimeOptions(), file).Accelerator);
    }
}
