using System.Net;
using Moat.Linux;

namespace Moat.Runtime.Tests;

/// <summary>The byte layouts the guest's ioctls depend on (x86_64).</summary>
public sealed class NetworkConfigTests
{
    [Theory]
    [InlineData(0, "0.0.0.0")]
    [InlineData(8, "255.0.0.0")]
    [InlineData(24, "255.255.255.0")]
    [InlineData(25, "255.255.255.128")]
    [InlineData(32, "255.255.255.255")]
    public void NetmaskFromPrefix(int prefix, string mask) => Assert.Equal(IPAddress.Parse(mask), NetworkConfig.Netmask(prefix));

    [Fact]
    public void BadPrefixIsRefused() => Assert.Throws<ArgumentOutOfRangeException>(() => NetworkConfig.Netmask(33));

    [Fact]
    public void IfreqHoldsNameThenSockaddrIn()
    {
        var req = new byte[NetworkConfig.IfreqSize];
        NetworkConfig.IfreqWithAddress(req, "eth0", IPAddress.Parse("10.88.77.5"));
        Assert.Equal("eth0\0"u8.ToArray(), req[..5]);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 10, 88, 77, 5 }, req[16..24]); // AF_INET, port 0, address
    }

    [Fact]
    public void DefaultRouteEntry()
    {
        var rt = NetworkConfig.Rtentry(IPAddress.Any, 0, IPAddress.Parse("10.88.77.1"));
        Assert.Equal(NetworkConfig.RtentrySize, rt.Length);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 }, rt[8..16]);          // rt_dst 0.0.0.0
        Assert.Equal(new byte[] { 2, 0, 0, 0, 10, 88, 77, 1 }, rt[24..32]);      // rt_gateway
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 }, rt[40..48]);         // rt_genmask /0
        Assert.Equal(new byte[] { 3, 0 }, rt[56..58]);                           // RTF_UP | RTF_GATEWAY
    }

    [Fact]
    public void LongInterfaceNameIsRefused() =>
        Assert.Throws<ArgumentException>(() => NetworkConfig.IfreqWithAddress(new byte[NetworkConfig.IfreqSize], "a-very-long-name0", IPAddress.Loopback));
}
