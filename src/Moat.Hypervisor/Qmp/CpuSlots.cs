using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>A vCPU slot QEMU can plug a CPU into: its device type and topology properties.</summary>
public sealed record CpuSlot(string Driver, IReadOnlyList<KeyValuePair<string, long>> Props)
{
    /// <summary>A device id unique per slot (e.g. "cpu-socket0-core1-thread0").</summary>
    public string DeviceId => "cpu-" + string.Join('-', Props.Select(p => p.Key.Replace("-id", "", StringComparison.Ordinal) + p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}

/// <summary>Reads the answer of QMP <c>query-hotpluggable-cpus</c>.</summary>
public static class CpuSlots
{
    /// <summary>The slots without a plugged CPU (no <c>qom-path</c>), lowest socket/core/thread first.</summary>
    public static IEnumerable<CpuSlot> Free(JsonElement answer) =>
        answer.EnumerateArray()
            .Where(e => !e.TryGetProperty("qom-path", out _))
            .Select(e => new CpuSlot(
                e.GetProperty("type").GetString() ?? throw new QmpProtocolException("query-hotpluggable-cpus: an entry has no type"),
                e.GetProperty("props").EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.GetInt64())).OrderBy(p => Rank(p.Key)).ToList()))
            .OrderBy(s => s.Props, PropsOrder.Instance);

    private static int Rank(string prop) => prop switch
    {
        "node-id" => 0,
        "socket-id" => 1,
        "die-id" => 2,
        "cluster-id" => 3,
        "core-id" => 4,
        "thread-id" => 5,
        _ => 6,
    };

    private sealed class PropsOrder : IComparer<IReadOnlyList<KeyValuePair<string, long>>>
    {
        public static readonly PropsOrder Instance = new();

        public int Compare(IReadOnlyList<KeyValuePair<string, long>>? x, IReadOnlyList<KeyValuePair<string, long>>? y)
        {
            for (var i = 0; i < Math.Min(x!.Count, y!.Count); i++)
            {
                var c = x[i].Value.CompareTo(y[i].Value);
                if (c != 0)
                {
                    return c;
                }
            }
            return x.Count.CompareTo(y.Count);
        }
    }
}
