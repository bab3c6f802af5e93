namespace Moat.Hypervisor.Tests;

public sealed class AcceleratorProbeTests
{
    [Fact]
    public void MissingDevice_FallsBackToTcg_WithReasonNamingThePath()
    {
        string path = "/nonexistent/moat-" + Guid.NewGuid().ToString("N") + "/kvm";
        var result = AcceleratorProbe.Probe(path);
        Assert.Equal(Accel.Tcg, result.Accel);
        Assert.Equal($"{path}: No such file or directory", result.Reason);
        Assert.Null(result.ApiVersion);
    }

    [Fact]
    public void DeviceThatIsNotKvm_FallsBackToTcg_AfterIoctlFails()
    {
        // /dev/null opens fine but does not implement KVM_GET_API_VERSION (ENOTTY).
        var result = AcceleratorProbe.Probe("/dev/null");
        Assert.Equal(Accel.Tcg, result.Accel);
        Assert.StartsWith("/dev/null: KVM_GET_API_VERSION failed: ", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultDevice_GivesAConsistentAnswer()
    {
        var result = AcceleratorProbe.Probe();
        Assert.StartsWith("/dev/kvm: ", result.Reason, StringComparison.Ordinal);
        if (result.Accel == Accel.Kvm)
        {
            Assert.Equal(AcceleratorProbe.ExpectedKvmApiVersion, result.ApiVersion);
        }
        else if (!File.Exists("/dev/kvm"))
        {
            Assert.Equal("/dev/kvm: No such file or directory", result.Reason);
        }
    }

    [Fact]
    public void ParseTscKhz_FirstCpuWithConstantTsc()
    {
        const string cpuinfo = """
            processor	: 0
            model name	: Some CPU
            cpu MHz		: 2096.017
            flags		: fpu vme tsc constant_tsc nonstop_tsc

            processor	: 1
            cpu MHz		: 3999.999
            flags		: fpu vme tsc constant_tsc

            """;
        Assert.Equal(2_096_017, AcceleratorProbe.ParseTscKhz(new StringReader(cpuinfo)));
    }

    [Fact]
    public void ParseTscKhz_WithoutConstantTsc_IsNull()
    {
        const string cpuinfo = """
            processor	: 0
            cpu MHz		: 2096.017
            flags		: fpu vme tsc

            processor	: 1
            cpu MHz		: 2096.017
            flags		: fpu vme tsc constant_tsc
            """;
        Assert.Null(AcceleratorProbe.ParseTscKhz(new StringReader(cpuinfo)));
    }

    [Fact]
    public void ParseTscKhz_WithoutMhz_IsNull()
    {
        Assert.Null(AcceleratorProbe.ParseTscKhz(new StringReader("processor : 0\nflags : constant_tsc\n")));
    }

    [Fact]
    public void HostTscKhz_IsPositiveOrNull()
    {
        Assert.True(AcceleratorProbe.HostTscKhz() is null or > 0);
    }
}
