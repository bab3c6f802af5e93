using System.Threading.Channels;
using Moat.Linux;

namespace Moat.Agent;

/// <summary>
/// Watches each container's memory.events (the kernel signals a change with inotify) and queues
/// the container's id whenever its oom_kill count grows. The host long-polls the queue.
/// </summary>
internal sealed class OomWatcher
{
    private readonly Inotify _inotify = new();
    private readonly Dictionary<int, (string Id, long Kills)> _watches = [];
    private readonly Channel<string> _events = Channel.CreateUnbounded<string>();

    public OomWatcher()
    {
        var t = new Thread(Loop) { IsBackground = true, Name = "oom-watcher" };
        t.Start();
    }

    public ChannelReader<string> Events => _events.Reader;

    public void Watch(string containerId)
    {
        var file = Path.Combine(Cgroups.Guest.PathOf(containerId), "memory.events");
        if (!File.Exists(file))
        {
            return;
        }
        var wd = _inotify.Add(file);
        lock (_watches)
        {
            _watches[wd] = (containerId, Kills(file));
        }
    }

    public void Forget(string containerId)
    {
        lock (_watches)
        {
            foreach (var wd in _watches.Where(w => w.Value.Id == containerId).Select(w => w.Key).ToList())
            {
                _watches.Remove(wd);
                _inotify.Remove(wd);
            }
        }
    }

    private void Loop()
    {
        while (true)
        {
            List<int> fired;
            try
            {
                fired = _inotify.Read();
            }
            catch (ErrnoException e)
            {
                Log.Info($"oom watcher: {e.Message}");
                return;
            }
            foreach (var wd in fired.Distinct())
            {
                lock (_watches)
                {
                    if (!_watches.TryGetValue(wd, out var w))
                    {
                        continue;
                    }
                    var kills = Kills(Path.Combine(Cgroups.Guest.PathOf(w.Id), "memory.events"));
                    if (kills > w.Kills)
                    {
                        _watches[wd] = (w.Id, kills);
                        _events.Writer.TryWrite(w.Id);
                    }
                }
            }
        }
    }

    private static long Kills(string memoryEvents)
    {
        try
        {
            var line = File.ReadLines(memoryEvents).FirstOrDefault(l => l.StartsWith("oom_kill ", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[9..], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
