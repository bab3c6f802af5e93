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
    /// <summary>
    /// The slots without a plugged CPU (no <c>qom-path</c>), lowest socket/core/thread first. Throws
    /// <see cref="QmpProtocolException"/> for an answer of another shape (an entry without a type,
    /// props that are not whole numbers).
    /// </summary>
    public static IEnumerable<CpuSlot> Free(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Array)
        {
            throw new QmpProtocolException($"query-hotpluggable-cpus: expected an array, got {answer.ValueKind}");
        }

        var slots = new List<CpuSlot>();
        foreach (var e in answer.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new QmpProtocolException($"query-hotpluggable-cpus: an entry is {e.ValueKind}, not an object");
            }
            if (e.TryGetProperty("qom-path", out _))
            {
                continue;
            }
            if (!e.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                throw new QmpProtocolException("query-hotpluggable-cpus: an entry has no type");
            }
            if (!e.TryGetProperty("props", out var props) || props.ValueKind != JsonValueKind.Object)
            {
                throw new QmpProtocolException("query-hotpluggable-cpus: an entry has no props");
            }
            var values = new List<KeyValuePair<string, long>>();
            foreach (var p in props.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt64(out var value))
                {
                    throw new QmpProtocolException($"query-hotpluggable-cpus: prop {p.Name} is not a whole number");
                }
                values.Add(KeyValuePair.Create(p.Name, value));
            }
            slots.Add(new CpuSlot(type.GetString()!, [.. values.OrderBy(p => Rank(p.Key))]));
        }
        return slots.OrderBy(s => s.Props, PropsOrder.Instance);
    }

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
