using Moat.Linux;

namespace Moat.Agent;

/// <summary>A process the agent started (a container's init or an exec), with its stdio ends.</summary>
internal sealed class GuestProcess
{
    public required string ExecId { get; init; }
    public required int Pid { get; init; }
    public required Task<int> Exit { get; init; }
    public required OutputStream Stdout { get; init; }
    public OutputStream? Stderr { get; init; }
    public SafeFd? Stdin { get; set; }
    public SafeFd? PtyMaster { get; init; }
    public SafeFd? StartPipe { get; set; }
    public SafeFd? SyncPipe { get; set; }

    public bool Exited => Exit.IsCompleted;

    public void CloseStdin()
    {
        var s = Stdin;
        Stdin = null;
        s?.Dispose();
    }
}
