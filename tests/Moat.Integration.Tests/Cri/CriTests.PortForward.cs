using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Moat.Integration.Tests.Cri;

/// <summary>
/// Issue 16 item 2: <c>kubectl port-forward</c>. Through CRI PortForward and containerd's streaming
/// server (the WebSocket form of the port-forward protocol, as the API server speaks it to kubelet),
/// containerd connects to 127.0.0.1:PORT in the pod's network namespace; the bytes reach a server
/// that listens only on the guest's loopback, both ways, and a port nothing listens on fails. Through
/// Moat's shim and through containerd's runc shim with Moat as its binary.
/// </summary>
public sealed partial class CriTests
{
    [Theory]
    [InlineData("moat")]
    [InlineData(CriFixture.RuncShimHandler)]
    public async Task PortForwardReachesAServerOnThePodsLoopback(string handler)
    {
        var (pod, podConfig) = await RunPod("portfwd", handler);
        var c = await StartContainer(pod, podConfig, "main", ["sh", "-c",
            "mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/blob bs=1k count=300 2>/dev/null && httpd -p 127.0.0.1:8080 -h /tmp/www"
            + " && (nc -l -p 9000 -e sh -c 'head -c 200000 | sha256sum' &) ; sleep 300"]);
        var ready = await Exec(c, "sh", "-c", "for i in $(seq 300); do netstat -ltn | grep -q ':9000 ' && netstat -ltn | grep -q '127.0.0.1:8080 ' && exit 0; sleep 0.1; done; exit 1");
        Assert.True(ready.ExitCode == 0, "the servers did not start: " + Text(ready.Stderr));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        // Down: a 300 KiB file from a server bound to the guest's 127.0.0.1.
        var (got, error) = await PortForwardAsync(pod, 8080, Encoding.ASCII.GetBytes("GET /blob HTTP/1.0\r\n\r\n"), timeout.Token);
        Assert.True(error.Length == 0, error);
        var text = Encoding.Latin1.GetString(got);
        var bodyAt = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(text.StartsWith("HTTP/1.", StringComparison.Ordinal) && bodyAt > 0, text[..Math.Min(200, text.Length)]);
        var body = got[(bodyAt + 4)..];
        Assert.Equal(300 * 1024, body.Length);
        var sum = await Exec(c, "sha256sum", "/tmp/www/blob");
        Assert.Equal(Text(sum.Stdout).Split(' ')[0], Convert.ToHexStringLower(SHA256.HashData(body)));

        // Up: 200,000 bytes to a server that answers with their digest.
        var up = new byte[200_000];
        Random.Shared.NextBytes(up);
        (got, error) = await PortForwardAsync(pod, 9000, up, timeout.Token);
        Assert.True(error.Length == 0, error);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(up)) + "  -\n", Encoding.ASCII.GetString(got));

        // Nothing listens on 9001 in the pod: the error channel says so, as with runc.
        (got, error) = await PortForwardAsync(pod, 9001, Encoding.ASCII.GetBytes("hello"), timeout.Token);
        Assert.Empty(got);
        Assert.Contains("error forwarding port 9001", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// One forwarded connection as kubelet's streaming server serves it over a WebSocket
    /// (<c>v4.channel.k8s.io</c>): each message starts with its channel (0 data, 1 error), and the
    /// first message of each channel is the port, little-endian. Sends <paramref name="send"/>,
    /// then reads until the server closes.
    /// </summary>
    private async Task<(byte[] Data, string Error)> PortForwardAsync(string pod, int port, byte[] send, CancellationToken ct)
    {
        var r = await Runtime.PortForwardAsync(new PortForwardRequest { PodSandboxId = pod, Port = { port } }, cancellationToken: ct);
        var url = new UriBuilder(r.Url) { Scheme = "ws", Query = $"port={port}" }.Uri;
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("v4.channel.k8s.io");
        await ws.ConnectAsync(url, ct);
        await ws.SendAsync((byte[])[0, .. send], WebSocketMessageType.Binary, endOfMessage: true, ct);
        var data = new MemoryStream();
        var error = new MemoryStream();
        var seen = new int[2];
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var res = await ws.ReceiveAsync(buffer, ct);
                if (res.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, res.Count);
                if (!res.EndOfMessage)
                {
                    continue;
                }
                var m = message.ToArray();
                message.SetLength(0);
                if (m.Length == 0)
                {
                    continue;
                }
                var channel = m[0];
                Assert.True(channel <= 1, $"a message on channel {channel}");
                if (seen[channel]++ == 0)
                {
                    Assert.Equal(port, m[1] | (m[2] << 8));
                    continue;
                }
                (channel == 0 ? data : error).Write(m, 1, m.Length - 1);
            }
        }
        catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.ConnectionClosedPrematurely)
        {
            // The streaming server may end the connection without a close frame.
        }
        return (data.ToArray(), Encoding.UTF8.GetString(error.ToArray()));
    }
}
