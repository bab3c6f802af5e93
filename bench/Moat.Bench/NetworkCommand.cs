using System.Diagnostics;
using System.Net.Sockets;

namespace Moat.Bench;

/// <summary>
/// network: TCP throughput over the pod network, in a pod of HANDLER: pod to host (HTTP GET of a
/// MIB-sized file the pod serves from tmpfs with busybox httpd) and host to pod (MIB sent to a
/// busybox nc that discards it, timed until the pod closes the connection); and the ceiling the
/// pod itself sets, the same HTTP GET over the pod's own loopback (busybox wget, timed in the pod).
/// </summary>
internal static class NetworkCommand
{
    private const string Server =
        "mkdir -p /dev/shm/w && dd if=/dev/zero of=/dev/shm/w/blob bs=1M count=$0 2>/dev/null && httpd -p 8080 -h /dev/shm/w && " +
        "while true; do nc -l -p 9000 > /dev/null; done";

    /// <summary>The blob fetched over the pod's loopback, in centiseconds of the pod's clock.</summary>
    private const string Loopback =
        "now() { awk '{ printf \"%d\", $1 * 100 }' /proc/uptime; }; a=$(now); wget -q -O /dev/null http://127.0.0.1:8080/blob; b=$(now); echo $((b - a))";

    public static async Task<int> RunAsync(Args args)
    {
        using var cri = new Cri(args.Get("socket"));
        var samples = args.Get("samples");
        var handler = args.Get("handler");
        var runs = args.Int("runs", 10);
        var mib = args.Int("mib", 32);
        var (pod, _) = await cri.StartPodAsync(handler, $"net-{handler}", "sh", "-c", Server, mib.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var ip = await cri.PodIpAsync(pod);
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            var url = $"http://{ip}:8080/blob";
            await WaitAsync(async () => (await http.GetAsync(url)).IsSuccessStatusCode, $"httpd in the {handler} pod at {url}");
            for (var i = 0; i < runs; i++)
            {
                var sw = Stopwatch.StartNew();
                var bytes = (await http.GetByteArrayAsync(url)).LongLength;
                var down = bytes / 1048576.0 / sw.Elapsed.TotalSeconds;
                if (bytes != mib * 1048576L)
                {
                    throw new BenchException($"pod to host: got {bytes} bytes, expected {mib} MiB");
                }

                var up = mib / await SendAsync(ip, mib);
                var centiseconds = double.Parse((await cri.ExecAsync(pod, "sh", "-c", Loopback)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var loopback = mib / (Math.Max(1, centiseconds) / 100);
                SampleFile.Append(samples,
                [
                    new Sample("workload", handler, "network pod to host", "MiB/s", 0, down),
                    new Sample("workload", handler, "network host to pod", "MiB/s", 0, up),
                    new Sample("workload", handler, "network pod loopback", "MiB/s", 0, loopback),
                ]);
                Console.WriteLine($"  network {handler} {i + 1}/{runs}: pod to host {down:F1} MiB/s, host to pod {up:F1} MiB/s, pod loopback {loopback:F1} MiB/s");
            }
        }
        finally
        {
            await cri.RemovePodAsync(pod);
        }

        return 0;
    }

    /// <summary>Seconds from connecting to the pod closing the connection after MIB were sent.</summary>
    private static async Task<double> SendAsync(string ip, int mib)
    {
        Socket? connected = null;
        // nc is restarted by the pod's loop after each connection: retry until it listens again.
        await WaitAsync(async () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await s.ConnectAsync(ip, 9000);
                connected = s;
                return true;
            }
            catch (SocketException)
            {
                s.Dispose();
                return false;
            }
        }, $"nc in the pod at {ip}:9000");
        using var socket = connected!;
        var sw = Stopwatch.StartNew();
        var chunk = new byte[1 << 20];
        for (var i = 0; i < mib; i++)
        {
            await socket.SendAsync(chunk);
        }

        socket.Shutdown(SocketShutdown.Send);
        while (await socket.ReceiveAsync(chunk) > 0)
        {
        }

        return sw.Elapsed.TotalSeconds;
    }

    private static async Task WaitAsync(Func<Task<bool>> ready, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"{what} did not answer within 60 s");
            }

            await Task.Delay(200);
        }
    }
}
