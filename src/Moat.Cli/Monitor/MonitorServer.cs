using System.Net;
using System.Text;

namespace Moat.Cli.Monitor;

/// <summary>
/// <c>moat monitor</c>'s HTTP side: <c>GET /metrics</c> (Prometheus text) and <c>GET /sandboxes</c>
/// (JSON), each a fresh scrape of the node. A few requests are answered at once, each within a
/// deadline (the scrape's own, then the write's), so a client that stops reading holds one slot
/// for a while, never the monitor.
/// </summary>
internal sealed class MonitorServer(NodeScraper scraper, Action<string> log)
{
    private const int MaxInFlight = 4;
    private static readonly TimeSpan RequestDeadline = TimeSpan.FromSeconds(15);
    private readonly SemaphoreSlim _slots = new(MaxInFlight, MaxInFlight);
    private long _scrapeErrors;

    public async Task ServeAsync(string prefix, CancellationToken ct)
    {
        using var listener = new HttpListener();
        listener.Prefixes.Add(prefix);
        listener.Start();
        log($"moat monitor: serving /metrics and /sandboxes on {prefix}");
        using var stop = ct.Register(listener.Stop);
        while (!ct.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException && ct.IsCancellationRequested)
            {
                break;
            }
            await _slots.WaitAsync(ct).ConfigureAwait(false);
            _ = Task.Run(async () =>
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(RequestDeadline);
                try
                {
                    await AnswerAsync(context, deadline.Token).ConfigureAwait(false);
                }
                finally
                {
                    _slots.Release();
                }
            }, CancellationToken.None);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken ct)
    {
        var response = context.Response;
        // The deadline aborts the connection itself: HttpListener's writes do not heed a token,
        // and a client that stops reading must not keep its slot.
        using var abort = ct.Register(response.Abort);
        try
        {
            var path = context.Request.Url?.AbsolutePath ?? "";
            if (context.Request.HttpMethod != "GET")
            {
                await WriteAsync(response, 405, "text/plain; charset=utf-8", "only GET is served\n", ct).ConfigureAwait(false);
            }
            else if (path is "/metrics" or "/sandboxes")
            {
                var node = await SnapshotAsync().WaitAsync(ct).ConfigureAwait(false);
                await (path == "/metrics"
                    ? WriteAsync(response, 200, PrometheusText.ContentType, NodeMetrics.Write(node, Interlocked.Read(ref _scrapeErrors)), ct)
                    : WriteAsync(response, 200, "application/json", SandboxesJson.Write(node) + "\n", ct)).ConfigureAwait(false);
            }
            else
            {
                await WriteAsync(response, 404, "text/plain; charset=utf-8", $"{path}: not found; try /metrics or /sandboxes\n", ct).ConfigureAwait(false);
            }
            response.Close();
        }
        catch (Exception e)
        {
            // Whatever went wrong, this connection ends here and the monitor serves on.
            log($"moat monitor: answering {context.Request.RemoteEndPoint}: {e.GetType().Name}: {e.Message}");
            response.Abort();
        }
    }

    /// <summary>Scrapes younger than this are shared: any number of requests cost the guests one scrape a second at most.</summary>
    private static readonly TimeSpan SnapshotMaxAge = TimeSpan.FromSeconds(1);
    private readonly Lock _snapshotLock = new();
    private Task<NodeSnapshot>? _snapshot;
    private long _snapshotStarted;

    private Task<NodeSnapshot> SnapshotAsync()
    {
        lock (_snapshotLock)
        {
            if (_snapshot is { } last && (!last.IsCompleted || (last.IsCompletedSuccessfully && System.Diagnostics.Stopwatch.GetElapsedTime(_snapshotStarted) < SnapshotMaxAge)))
            {
                return last;
            }
            _snapshotStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            return _snapshot = ScrapeAsync();
        }
    }

    /// <summary>One scrape of the node (its own per-shim deadlines bound it), its unreachable shims counted once.</summary>
    private async Task<NodeSnapshot> ScrapeAsync()
    {
        var node = await scraper.ScrapeAsync(CancellationToken.None).ConfigureAwait(false);
        Interlocked.Add(ref _scrapeErrors, node.Unreachable);
        return node;
    }

    private static async Task WriteAsync(HttpListenerResponse response, int status, string type, string body, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, ct).ConfigureAwait(false);
    }
}
