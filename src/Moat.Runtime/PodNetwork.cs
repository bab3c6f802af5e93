using System.Diagnostics;
using System.Text.Json;

namespace Moat.Runtime;

/// <summary>An interface of the pod's network namespace as the guest must mirror it.</summary>
public sealed record PodInterface(string Name, string TapName, string Mac, int Mtu, IReadOnlyList<(string Address, int PrefixLength)> Addresses);

/// <summary>A route through a gateway (the on-link routes follow from the addresses).</summary>
public sealed record PodRoute(string Destination, int PrefixLength, string Gateway);

/// <summary>
/// Kata's "tcfilter" model: for each interface CNI put in the pod's network namespace (a veth),
/// a tap device is created beside it and tc mirrors every frame between the two, so the VM's
/// virtio-net device (given the veth's MAC, and the veth's addresses inside the guest) is the
/// pod's network endpoint. Uses iproute2's <c>ip</c> and <c>tc</c> inside the namespace.
/// </summary>
public sealed class PodNetwork
{
    private PodNetwork(string netnsPath, IReadOnlyList<PodInterface> interfaces, IReadOnlyList<PodRoute> routes)
    {
        NetnsPath = netnsPath;
        Interfaces = interfaces;
        Routes = routes;
    }

    public string NetnsPath { get; }
    public IReadOnlyList<PodInterface> Interfaces { get; }
    public IReadOnlyList<PodRoute> Routes { get; }

    /// <summary>Reads the namespace's interfaces and routes and wires a tap to each interface.</summary>
    public static async Task<PodNetwork> PrepareAsync(string netnsPath, CancellationToken ct)
    {
        if (!File.Exists(netnsPath))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"network namespace {netnsPath} does not exist");
        }
        // Both reads at once, and the taps and tc filters each in one batch: every nsenter costs ~25 ms.
        var addrs = InNamespaceAsync(netnsPath, null, ct, "ip", "-j", "addr", "show");
        var routeList = InNamespaceAsync(netnsPath, null, ct, "ip", "-j", "-4", "route", "show");
        var links = JsonDocument.Parse(await addrs.ConfigureAwait(false));
        var interfaces = new List<PodInterface>();
        foreach (var link in links.RootElement.EnumerateArray())
        {
            var name = link.GetProperty("ifname").GetString()!;
            if (name == "lo" || !link.TryGetProperty("address", out var mac) || link.GetProperty("link_type").GetString() != "ether")
            {
                continue;
            }
            var addresses = link.TryGetProperty("addr_info", out var info)
                ? info.EnumerateArray().Where(a => a.GetProperty("family").GetString() == "inet")
                    .Select(a => (a.GetProperty("local").GetString()!, a.GetProperty("prefixlen").GetInt32())).ToList()
                : [];
            interfaces.Add(new PodInterface(name, $"tap{interfaces.Count}_moat", mac.GetString()!, link.GetProperty("mtu").GetInt32(), addresses));
        }
        if (interfaces.Count == 0)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"network namespace {netnsPath} has no Ethernet interface: is the CNI configuration right?");
        }
        var routes = new List<PodRoute>();
        foreach (var r in JsonDocument.Parse(await routeList.ConfigureAwait(false)).RootElement.EnumerateArray())
        {
            if (!r.TryGetProperty("gateway", out var gw))
            {
                continue;
            }
            var dst = r.GetProperty("dst").GetString()!;
            var (address, prefix) = dst == "default" ? ("0.0.0.0", 0) : dst.Contains('/') ? (dst[..dst.IndexOf('/')], int.Parse(dst[(dst.IndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) : (dst, 32);
            routes.Add(new PodRoute(address, prefix, gw.GetString()!));
        }
        var ip = new System.Text.StringBuilder();
        var tc = new System.Text.StringBuilder();
        foreach (var i in interfaces)
        {
            ip.Append(System.Globalization.CultureInfo.InvariantCulture, $"tuntap add dev {i.TapName} mode tap vnet_hdr\n");
            ip.Append(System.Globalization.CultureInfo.InvariantCulture, $"link set dev {i.TapName} mtu {i.Mtu} up\n");
            foreach (var (from, to) in new[] { (i.Name, i.TapName), (i.TapName, i.Name) })
            {
                tc.Append(System.Globalization.CultureInfo.InvariantCulture, $"qdisc add dev {from} ingress\n");
                tc.Append(System.Globalization.CultureInfo.InvariantCulture, $"filter add dev {from} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev {to}\n");
            }
        }
        await InNamespaceAsync(netnsPath, ip.ToString(), ct, "ip", "-batch", "-").ConfigureAwait(false);
        await InNamespaceAsync(netnsPath, tc.ToString(), ct, "tc", "-batch", "-").ConfigureAwait(false);
        return new PodNetwork(netnsPath, interfaces, routes);
    }

    /// <summary>Removes the taps and the veths' ingress qdiscs (best effort: the namespace may already be gone).</summary>
    public async Task RemoveAsync()
    {
        if (!File.Exists(NetnsPath))
        {
            return;
        }
        foreach (var i in Interfaces)
        {
            try
            {
                await InNamespaceAsync(NetnsPath, null, CancellationToken.None, "ip", "link", "del", "dev", i.TapName).ConfigureAwait(false);
                await InNamespaceAsync(NetnsPath, null, CancellationToken.None, "tc", "qdisc", "del", "dev", i.Name, "ingress").ConfigureAwait(false);
            }
            catch (RuntimeException)
            {
            }
        }
    }

    /// <summary>Runs <paramref name="command"/> in the namespace, with <paramref name="stdin"/> as its input (a batch) if given.</summary>
    internal static async Task<string> InNamespaceAsync(string netnsPath, string? stdin, CancellationToken ct, params string[] command)
    {
        var psi = new ProcessStartInfo("nsenter")
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--net=" + netnsPath);
        psi.ArgumentList.Add("--");
        foreach (var a in command)
        {
            psi.ArgumentList.Add(a);
        }
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("nsenter did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RuntimeException(RuntimeErrorKind.MissingDependency, $"cannot run nsenter for pod networking: {e.Message}: install util-linux and iproute2");
        }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            if (stdin is not null)
            {
                await p.StandardInput.WriteAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
                p.StandardInput.Close();
            }
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
            if (p.ExitCode != 0)
            {
                throw new RuntimeException(RuntimeErrorKind.Internal,
                    $"pod network: '{string.Join(' ', command)}' in {netnsPath} failed: {(await stderr.ConfigureAwait(false)).Trim()}");
            }
            return await stdout.ConfigureAwait(false);
        }
    }
}
