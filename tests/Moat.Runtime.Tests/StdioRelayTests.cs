using Moat.Oci;

namespace Moat.Runtime.Tests;

/// <summary>The stdio relay over a recording fake agent: nothing written is lost, and a process that stops reading ends the input quietly.</summary>
public sealed class StdioRelayTests
{
    /// <summary>Answers output reads from a script and records what reaches stdin; the rest is not used here.</summary>
    private sealed class ScriptedAgent : IGuestAgent
    {
        public readonly Queue<GuestOutput> Stdout = new();
        public readonly List<string> Calls = [];
        public readonly MemoryStream Stdin = new();
        public int AcceptWrites = int.MaxValue;

        public Task<GuestOutput> ReadOutputAsync(string containerId, string execId, bool stderr, int maxBytes, CancellationToken ct)
        {
            Calls.Add($"read {containerId}/{execId} {(stderr ? "stderr" : "stdout")} {maxBytes}");
            return Task.FromResult(Stdout.Count > 0 ? Stdout.Dequeue() : new GuestOutput(default, true));
        }

        public Task WriteStdinAsync(string containerId, string execId, ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            if (AcceptWrites-- <= 0)
            {
                throw new AgentException(RuntimeErrorKind.FailedPrecondition, "stdin is closed: the process stopped reading");
            }
            Calls.Add($"write {data.Length}");
            Stdin.Write(data.Span);
            return Task.CompletedTask;
        }

        public Task CloseStdinAsync(string containerId, string execId, CancellationToken ct)
        {
            Calls.Add($"close {containerId}/{execId}");
            return Task.CompletedTask;
        }

        public Task CreateContainerAsync(string containerId, Spec guestSpec, bool stdin, IReadOnlyList<NamespaceJoin> joins, CancellationToken ct) => throw new NotSupportedException();
        public Task<int> StartAsync(string containerId, CancellationToken ct) => throw new NotSupportedException();
        public Task<int> ExecAsync(string containerId, string execId, ReadOnlyMemory<byte> processJson, bool stdin, CancellationToken ct) => throw new NotSupportedException();
        public Task<int> WaitAsync(string containerId, string execId, CancellationToken ct) => throw new NotSupportedException();
        public Task SignalAsync(string containerId, string execId, uint signal, bool all, CancellationToken ct) => throw new NotSupportedException();
        public Task ResizeTtyAsync(string containerId, string execId, uint rows, uint columns, CancellationToken ct) => throw new NotSupportedException();
        public Task PauseAsync(string containerId, CancellationToken ct) => throw new NotSupportedException();
        public Task ResumeAsync(string containerId, CancellationToken ct) => throw new NotSupportedException();
        public Task UpdateAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyDictionary<string, string>> StatsAsync(string containerId, CancellationToken ct) => throw new NotSupportedException();
        public Task RemoveAsync(string containerId, CancellationToken ct) => throw new NotSupportedException();
        public Task<string> NextOomKillAsync(CancellationToken ct) => throw new NotSupportedException();
        public Task<int> OnlineCpusAsync(int count, CancellationToken ct) => throw new NotSupportedException();

        public Task<GuestUsage> UsageAsync(TimeSpan timeout, CancellationToken ct) => throw new NotSupportedException();
    }

    [Fact]
    public async Task OutputIsCopiedInOrderUntilTheGuestSaysEof()
    {
        var agent = new ScriptedAgent();
        agent.Stdout.Enqueue(new GuestOutput("one "u8.ToArray(), false));
        agent.Stdout.Enqueue(new GuestOutput(default, false)); // an empty read is not the end
        agent.Stdout.Enqueue(new GuestOutput("two"u8.ToArray(), true)); // the last bytes come with the EOF
        agent.Stdout.Enqueue(new GuestOutput("never"u8.ToArray(), false));
        var sink = new MemoryStream();
        await new StdioRelay(agent, "c1", "e1").PumpOutputAsync(stderr: false, sink, CancellationToken.None);
        Assert.Equal("one two", System.Text.Encoding.UTF8.GetString(sink.ToArray()));
        Assert.Equal(3, agent.Calls.Count);
        Assert.All(agent.Calls, c => Assert.Equal($"read c1/e1 stdout {StdioRelay.MaxRead}", c));
    }

    [Fact]
    public async Task InputIsCopiedThenClosed()
    {
        var agent = new ScriptedAgent();
        var input = new byte[200_000];
        Random.Shared.NextBytes(input);
        await new StdioRelay(agent, "c1", "").PumpInputAsync(new MemoryStream(input), CancellationToken.None);
        Assert.Equal(input, agent.Stdin.ToArray());
        Assert.Equal("close c1/", agent.Calls[^1]);
        Assert.All(agent.Calls.SkipLast(1), c => Assert.StartsWith("write ", c));
    }

    [Fact]
    public async Task AProcessThatStopsReadingEndsTheInputWithoutAnError()
    {
        var agent = new ScriptedAgent { AcceptWrites = 1 };
        await new StdioRelay(agent, "c1", "").PumpInputAsync(new MemoryStream(new byte[300_000]), CancellationToken.None);
        Assert.Equal(["write 65536"], agent.Calls);
    }
}
