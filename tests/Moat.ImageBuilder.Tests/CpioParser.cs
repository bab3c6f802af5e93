using System.Globalization;
using System.Text;

namespace Moat.ImageBuilder.Tests;

internal sealed record CpioEntry(string Name, uint Ino, uint Mode, uint Nlink, uint Mtime, byte[] Data, uint RdevMajor, uint RdevMinor);

/// <summary>An independent newc reader that checks the header layout and padding byte by byte.</summary>
internal static class CpioParser
{
    public static List<CpioEntry> Parse(byte[] archive)
    {
        var entries = new List<CpioEntry>();
        var pos = 0;
        while (true)
        {
            Assert.True(pos % 4 == 0, $"header at {pos} not 4-aligned");
            Assert.Equal("070701", Encoding.ASCII.GetString(archive, pos, 6));
            uint Field(int i) => uint.Parse(Encoding.ASCII.GetString(archive, pos + 6 + (i * 8), 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var (ino, mode, uid, gid, nlink, mtime, size) = (Field(0), Field(1), Field(2), Field(3), Field(4), Field(5), Field(6));
            var (rdevMajor, rdevMinor, namesize, check) = (Field(9), Field(10), Field(11), Field(12));
            Assert.Equal(0u, uid);
            Assert.Equal(0u, gid);
            Assert.Equal(0u, check);
            var name = Encoding.UTF8.GetString(archive, pos + 110, (int)namesize - 1);
            Assert.Equal(0, archive[pos + 110 + (int)namesize - 1]);
            var dataStart = Align(pos + 110 + (int)namesize);
            for (var i = pos + 110 + (int)namesize; i < dataStart; i++)
            {
                Assert.Equal(0, archive[i]);
            }

            var data = archive.AsSpan(dataStart, (int)size).ToArray();
            pos = Align(dataStart + (int)size);
            if (name == "TRAILER!!!")
            {
                Assert.Equal(archive.Length, pos);
                return entries;
            }

            entries.Add(new CpioEntry(name, ino, mode, nlink, mtime, data, rdevMajor, rdevMinor));
        }
    }

    private static int Align(int n) => (n + 3) & ~3;
}
