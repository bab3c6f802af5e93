using System.Text;

namespace Moat.Runtime;

/// <summary>
/// Short stable names (socket names) from longer ones. Not cryptographic on purpose: SHA-256
/// would load libcrypto, 3.4 MB of the shim daemon's resident memory (measured).
/// </summary>
public static class NameHash
{
    /// <summary>128 bits (two FNV-1a 64 passes with different offsets) as up to 32 hex digits.</summary>
    public static string Hex(string value, int digits = 32)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var a = Fnv1a(bytes, 0xcbf29ce484222325);
        var b = Fnv1a(bytes, 0x84222325cbf29ce4);
        return (a.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + b.ToString("x16", System.Globalization.CultureInfo.InvariantCulture))[..digits];
    }

    private static ulong Fnv1a(byte[] data, ulong hash)
    {
        foreach (var x in data)
        {
            hash = (hash ^ x) * 0x100000001b3;
        }
        return hash;
    }
}
