namespace Moat.Fuzz;

/// <summary>
/// One fuzz target: a parser of untrusted bytes driven the way Moat drives it. <see cref="Run"/>
/// returns when the input was accepted, or rejected with one of the parser's documented
/// exceptions; anything else escapes (a bug), and so does a <see cref="FuzzHangException"/>
/// when the input keeps the parser busy past <see cref="Timeout"/>.
/// </summary>
internal abstract class FuzzTarget
{
    /// <summary>How long one input may take before it counts as a hang (MOAT_FUZZ_TIMEOUT_MS, default 5 s).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(
        int.TryParse(Environment.GetEnvironmentVariable("MOAT_FUZZ_TIMEOUT_MS"), out var ms) && ms > 0 ? ms : 5000);

    /// <summary>The name <c>fuzz/run.sh</c> and the corpus directory use, e.g. <c>ttrpc-server</c>.</summary>
    public abstract string Name { get; }

    /// <summary>One line: what is parsed and which exceptions are its documented rejections.</summary>
    public abstract string Description { get; }

    /// <summary>Runs one input; throws only on a bug.</summary>
    public void Run(byte[] input)
    {
        try
        {
            Execute(input);
        }
        catch (Exception e) when (IsRejection(e))
        {
            // the parser refused the input the documented way
            if (Verbose)
            {
                Console.Error.WriteLine($"rejected: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>MOAT_FUZZ_VERBOSE=1: say how each input was rejected (for triage, not under afl-fuzz).</summary>
    protected static bool Verbose { get; } = Environment.GetEnvironmentVariable("MOAT_FUZZ_VERBOSE") == "1";

    /// <summary>Feeds <paramref name="input"/> to the parser and to the host code that consumes what it returns.</summary>
    protected abstract void Execute(byte[] input);

    /// <summary>The exceptions with which the parser documents a refusal of bad input.</summary>
    protected abstract bool IsRejection(Exception e);

    /// <summary>Runs an asynchronous target to its end, or throws <see cref="FuzzHangException"/>.</summary>
    protected static void RunAsync(Func<Task> body)
    {
        var task = Task.Run(async () =>
        {
            await body();
            await SettleAsync();
        });
        if (!task.ContinueWith(static _ => { }, TaskScheduler.Default).Wait(Timeout))
        {
            throw new FuzzHangException($"input still running after {Timeout.TotalSeconds:F1} s");
        }

        task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Lets what the input left queued on the thread pool (a connection's loops winding down, handlers)
    /// run now rather than during the next input, whose coverage it would blur.
    /// </summary>
    protected static async Task SettleAsync()
    {
        for (var i = 0; i < 100 && ThreadPool.PendingWorkItemCount > 0; i++)
        {
            await Task.Yield();
        }
    }
}

/// <summary>A fuzz input kept its target running past <see cref="FuzzTarget.Timeout"/>.</summary>
internal sealed class FuzzHangException(string message) : Exception(message);

/// <summary>The target saw something its contract rules out (a connection closed for a reason it never gives).</summary>
internal sealed class FuzzContractException(string message, Exception? inner = null) : Exception(message, inner);
