using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Moat.Cli.Monitor;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat monitor</c>: serves the node's sandboxes as Prometheus metrics (as kata-monitor does for Kata).</summary>
internal static class MonitorCommand
{
    public const string DefaultListen = "127.0.0.1:8090";

    /// <summary>How long one shim may take to answer a scrape: a dead or wedged one is left out after it.</summary>
    public static readonly TimeSpan ShimDeadline = TimeSpan.FromSeconds(2);

    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = $"address:port to serve /metrics and /sandboxes on (default {DefaultListen}; the figures name pods: keep it on loopback or a node-only network)", DefaultValueFactory = _ => DefaultListen };
        var cmd = new Command("monitor", "serve Prometheus metrics of every Moat sandbox on this node (/metrics, /sandboxes)") { listen };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var prefix = Prefix(r.GetValue(listen)!);
            var scraper = new NodeScraper(GlobalOptions.RuntimeOptions(r), ShimDeadline);
            try
            {
                await new MonitorServer(scraper, Console.Error.WriteLine).ServeAsync(prefix, ct);
            }
            catch (HttpListenerException e)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot listen on {r.GetValue(listen)}: {e.Message}: pick a free local address:port with --listen");
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>The HTTP listener prefix for "address:port" (IPv6 in brackets).</summary>
    public static string Prefix(string listen)
    {
        if (!IPEndPoint.TryParse(listen, out var ep) || ep.Port == 0)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--listen {listen}: expected address:port, such as {DefaultListen} or [::1]:8090");
        }
        // Every address: HttpListener's "+" (it matches a request's Host header against the prefix's host).
        var host = ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any) ? "+"
            : ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        return $"http://{host}:{ep.Port}/";
    }
}
