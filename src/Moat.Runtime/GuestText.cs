using System.Globalization;
using System.Text;

namespace Moat.Runtime;

/// <summary>
/// Text that came from the guest (or from QEMU speaking for it) on its way into a log line or an
/// error message: one line, control characters escaped as \xNN (no terminal escapes, no forged
/// log lines), cut at a length.
/// </summary>
public static class GuestText
{
    public static string OneLine(string text, int maxChars)
    {
        var b = new StringBuilder(Math.Min(text.Length, maxChars) + 8);
        foreach (var c in text)
        {
            if (b.Length >= maxChars)
            {
                return b.Append("...").ToString();
            }
            if (char.IsControl(c))
            {
                b.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                b.Append(c);
            }
        }
        return b.ToString();
    }
}
