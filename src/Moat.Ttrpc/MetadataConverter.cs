using System.Collections.ObjectModel;
using Google.Protobuf.Collections;
using Moat.Ttrpc.Protocol;

namespace Moat.Ttrpc;

/// <summary>Maps between <see cref="CallOptions.Metadata"/> and the wire's repeated <c>KeyValue</c>.</summary>
internal static class MetadataConverter
{
    public static void AddTo(RepeatedField<KeyValue> target, IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        foreach (var (key, value) in metadata)
        {
            target.Add(new KeyValue { Key = key, Value = value ?? string.Empty });
        }
    }

    /// <summary>Builds a dictionary from wire metadata; when a key repeats, its first value wins.</summary>
    public static IReadOnlyDictionary<string, string> FromWire(RepeatedField<KeyValue> source)
    {
        if (source.Count == 0)
        {
            return ReadOnlyDictionary<string, string>.Empty;
        }

        var result = new Dictionary<string, string>(source.Count, StringComparer.Ordinal);
        foreach (var entry in source)
        {
            result.TryAdd(entry.Key, entry.Value);
        }

        return result;
    }
}
