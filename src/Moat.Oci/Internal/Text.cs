using System.Globalization;
using System.Text;

namespace Moat.Oci.Internal;

internal static class Text
{
    /// <summary>Go-%q-like quoting that keeps messages on one line and bounds their length.</summary>
    public static string Quote(string? value, int maxChars = 80)
    {
        if (value is null)
        {
            return "null";
        }

        var sb = new StringBuilder(Math.Min(value.Length, maxChars) + 8);
        sb.Append('"');
        var count = 0;
        foreach (var c in value)
        {
            if (count++ == maxChars)
            {
                sb.Append("...");
                break;
            }

            AppendEscaped(sb, c);
        }

        sb.Append('"');
        return sb.ToString();
    }

    /// <summary>Replaces line breaks and other control characters with spaces so the result is a single line.</summary>
    public static string OneLine(string value, int maxChars = 300)
    {
        var sb = new StringBuilder(Math.Min(value.Length, maxChars) + 3);
        foreach (var c in value)
        {
            if (sb.Length >= maxChars)
            {
                sb.Append("...");
                break;
            }

            sb.Append(char.IsControl(c) || c is '\u2028' or '\u2029' ? ' ' : c);
        }

        return sb.ToString();
    }

    private static void AppendEscaped(StringBuilder sb, char c)
    {
        switch (c)
        {
            case '"': sb.Append("\\\""); break;
            case '\\': sb.Append("\\\\"); break;
            case '\n': sb.Append("\\n"); break;
            case '\r': sb.Append("\\r"); break;
            case '\t': sb.Append("\\t"); break;
            default:
                if (char.IsControl(c) || c is '\u2028' or '\u2029')
                {
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append(c);
                }

                break;
        }
    }
}
