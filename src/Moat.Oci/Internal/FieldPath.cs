using System.Globalization;

namespace Moat.Oci.Internal;

/// <summary>
/// Renders field paths the way error messages show them: <c>linux.namespaces[2].type</c>,
/// <c>linux.sysctl["net.ipv4.ip_forward"]</c>. Also converts System.Text.Json paths (<c>$.a['b.c'][3]</c>).
/// </summary>
internal static class FieldPath
{
    public static string Prop(string parent, string name)
        => parent.Length == 0 ? name : parent + "." + name;

    public static string Index(string parent, int index)
        => parent + "[" + index.ToString(CultureInfo.InvariantCulture) + "]";

    /// <summary>A dictionary key / property name of arbitrary content.</summary>
    public static string Key(string parent, string key)
        => IsIdentifier(key) ? Prop(parent, key) : parent + "[" + Text.Quote(key) + "]";

    public static string Render(IReadOnlyList<Segment> segments)
    {
        var path = "";
        foreach (var s in segments)
        {
            path = s.Name is null ? Index(path, s.ArrayIndex) : Key(path, s.Name);
        }

        return path;
    }

    /// <summary>Parses a System.Text.Json path (<c>$.a.b[1]['c.d']</c>). Returns null if it cannot be understood.</summary>
    public static List<Segment>? ParseJsonPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath[0] != '$')
        {
            return null;
        }

        var segments = new List<Segment>();
        var i = 1;
        while (i < jsonPath.Length)
        {
            var c = jsonPath[i];
            if (c == '.')
            {
                var start = ++i;
                while (i < jsonPath.Length && jsonPath[i] != '.' && jsonPath[i] != '[')
                {
                    i++;
                }

                segments.Add(new Segment(jsonPath[start..i], 0));
            }
            else if (c == '[' && i + 1 < jsonPath.Length && jsonPath[i + 1] == '\'')
            {
                var end = jsonPath.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                segments.Add(new Segment(jsonPath[(i + 2)..end], 0));
                i = end + 2;
            }
            else if (c == '[')
            {
                var end = jsonPath.IndexOf(']', i + 1);
                if (end < 0 || !int.TryParse(jsonPath.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    return null;
                }

                segments.Add(new Segment(null, index));
                i = end + 1;
            }
            else
            {
                return null;
            }
        }

        return segments;
    }

    private static bool IsIdentifier(string s)
    {
        if (s.Length == 0 || char.IsAsciiDigit(s[0]))
        {
            return false;
        }

        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    internal readonly record struct Segment(string? Name, int ArrayIndex);
}
