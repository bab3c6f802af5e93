using System.Runtime.InteropServices;

namespace Moat.Linux;

/// <summary>A NULL-terminated array of UTF-8 C strings (argv/envp) in native memory.</summary>
public sealed unsafe class NativeStringArray : IDisposable
{
    private readonly nint* _items;
    private readonly int _count;

    public NativeStringArray(IReadOnlyList<string> values)
    {
        _count = values.Count;
        _items = (nint*)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(nint));
        for (var i = 0; i < _count; i++)
        {
            _items[i] = Marshal.StringToCoTaskMemUTF8(values[i]);
        }
    }

    public nint* Pointer => _items;

    public void Dispose()
    {
        for (var i = 0; i < _count; i++)
        {
            Marshal.FreeCoTaskMem(_items[i]);
        }
        NativeMemory.Free(_items);
    }
}
