using System.Buffers.Binary;

namespace Moat.Fuzz.Tests;

/// <summary>
/// AFL-style havoc on the seeds, deterministic for a given seed: bit flips, interesting values
/// (also as 32-bit big-endian length fields), byte inserts and deletes, block copies, splices of
/// two seeds, truncation, and now and then plain random bytes.
/// </summary>
internal sealed class Mutator(byte[][] seeds, int seed)
{
    private static readonly byte[] Interesting = [0, 1, 0x7f, 0x80, 0xff, (byte)'\n', (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)'\\'];
    private static readonly uint[] InterestingLengths = [0, 1, 9, 10, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 4 << 20, (4 << 20) + 1, 64 * 1024];

    private readonly Random _random = new(seed);

    public byte[] Next()
    {
        if (seeds.Length == 0 || _random.Next(20) == 0)
        {
            var noise = new byte[_random.Next(0, 256)];
            _random.NextBytes(noise);
            return noise;
        }

        var data = new List<byte>(seeds[_random.Next(seeds.Length)]);
        var rounds = 1 << _random.Next(0, 5);
        for (var i = 0; i < rounds; i++)
        {
            Mutate(data);
        }

        return [.. data];
    }

    private void Mutate(List<byte> data)
    {
        var at = data.Count == 0 ? 0 : _random.Next(data.Count);
        switch (_random.Next(9))
        {
            case 0 when data.Count > 0:
                data[at] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when data.Count > 0:
                data[at] = Interesting[_random.Next(Interesting.Length)];
                break;
            case 2 when data.Count >= 4:
                var length = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(length, InterestingLengths[_random.Next(InterestingLengths.Length)]);
                at = Math.Min(at, data.Count - 4);
                for (var j = 0; j < 4; j++)
                {
                    data[at + j] = length[j];
                }

                break;
            case 3:
                data.Insert(at, (byte)_random.Next(256));
                break;
            case 4 when data.Count > 0:
                data.RemoveRange(at, Math.Min(data.Count - at, 1 + _random.Next(16)));
                break;
            case 5 when data.Count > 0:
                var from = _random.Next(data.Count);
                var block = data.GetRange(from, Math.Min(data.Count - from, 1 + _random.Next(32)));
                data.InsertRange(at, block);
                break;
            case 6:
                var other = seeds[_random.Next(seeds.Length)];
                var cut = other.Length == 0 ? 0 : _random.Next(other.Length);
                data.RemoveRange(at, data.Count - at);
                data.AddRange(other.AsSpan(cut).ToArray());
                break;
            case 7 when data.Count > 0:
                data.RemoveRange(at, data.Count - at);
                break;
            default:
                data.Insert(at, Interesting[_random.Next(Interesting.Length)]);
                break;
        }
    }
}
