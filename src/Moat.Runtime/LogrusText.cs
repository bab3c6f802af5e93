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

    /// <summary>
    /// logrus leaves a value bare when it is empty or only letters, digits and <c>-._/@^+</c>, and
    /// otherwise quotes it as Go's strconv.Quote does: what is not printable (controls, format
    /// characters such as bidi overrides, line and paragraph separators, spaces other than
    /// U+0020, unassigned and private-use code points) is escaped, so guest text can neither break
    /// a line nor make one look like another.
    /// </summary>
    private static void Value(StringBuilder b, string value)
    {
        if (value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/' or '@' or '^' or '+'))
        {
            b.Append(value);
            return;
        }
        b.Append('"');
        for (var i = 0; i < value.Length;)
        {
            if (Rune.DecodeFromUtf16(value.AsSpan(i), out var rune, out var used) != System.Buffers.OperationStatus.Done)
            {
                b.Append(CultureInfo.InvariantCulture, $"\\u{(int)value[i]:x4}"); // a lone surrogate
                i++;
                continue;
            }
            i += used;
            _ = rune.Value switch
            {
                '"' => b.Append("\\\""),
                '\\' => b.Append("\\\\"),
                '\n' => b.Append("\\n"),
                '\r' => b.Append("\\r"),
                '\t' => b.Append("\\t"),
                < 0x20 or 0x7f => b.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}"),
                _ when Printable(rune) => b.Append(rune.ToString()),
                <= 0xffff => b.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}"),
                _ => b.Append(CultureInfo.InvariantCulture, $"\\U{rune.Value:x8}"),
            };
        }
        b.Append('"');
    }

    private static bool Printable(Rune r) => Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate => false,
        UnicodeCategory.SpaceSeparator => r.Value == ' ',
        _ => true,
    };
}
