namespace Moat.Linux;

public static class ExitStatus
{
    /// <summary>waitpid status to a shell-style code: exit code, or 128 + signal.</summary>
    public static int Decode(int status)
    {
        var termsig = status & 0x7f;
        if (termsig == 0)
        {
            return (status >> 8) & 0xff;
        }
        return 128 + termsig;
    }

    public static bool IsExitedOrSignaled(int status) => (status & 0x7f) != 0x7f;
}
