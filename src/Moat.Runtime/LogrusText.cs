using System.Globalization;
using System.Text;

namespace Moat.Runtime;

/// <summary>
/// One log line in logrus' text format, which containerd writes and its shims write:
/// <c>time="…" level=info msg="…" key=value …</c>, the time in RFC 3339 with nanoseconds, the
/// extra fields sorted by key, and a value quoted (Go's escapes) unless it is plain characters.
/// Text from the guest goes through here too: control characters are escaped, never written.
/// </summary>
public static class LogrusText
{
    public static string Line(DateTime utc, string level, string message, IEnumerable<(string Key, string Value)> fields)
    {
        var b = new StringBuilder();
        b.Append("time=\"").Append(utc.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'", CultureInfo.InvariantCulture)).Append('"');
        b.Append(" level=").Append(level);
        b.Append(" msg=");
        Value(b, message);
        foreach (var (key, value) in fields.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            b.Append(' ').Append(key).Append('=');
            Value(b, value);
        }
        return b.ToString();
    }

    /// <summary>logrus quotes a value that is empty or holds anything but letters, digits and <c>-._/@^+</c>.</summary>
    private static void Value(StringBuilder b, string value)
    {
        if (value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/' or '@' or '^' or '+'))
        {
            b.Append(value);
            return;
        }
        b.Append('"');
        foreach (var c in value)
        {
            _ = c switch
            {
                '"' => b.Append("\\\""),
                '\\' => b.Append("\\\\"),
                '\n' => b.Append("\\n"),
                '\r' => b.Append("\\r"),
                '\t' => b.Append("\\t"),
                _ when char.IsControl(c) => b.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => b.Append(c),
            };
        }
        b.Append('"');
    }
}
