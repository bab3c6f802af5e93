namespace Moat.Shim;

/// <summary>The flags containerd passes every shim invocation (Go flag syntax: -name value).</summary>
internal sealed record ShimArgs(string Namespace, string Id, string Address, string PublishBinary, string Bundle, bool Debug, string Command)
{
    public static ShimArgs Parse(string[] args)
    {
        string ns = "", id = "", address = "", publish = "", bundle = Directory.GetCurrentDirectory(), command = "";
        var debug = false;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i].TrimStart('-');
            var eq = a.IndexOf('=');
            string? inline = eq >= 0 ? a[(eq + 1)..] : null;
            if (eq >= 0)
            {
                a = a[..eq];
            }
            string Value() => inline ?? (i + 1 < args.Length ? args[++i] : throw new ArgumentException($"flag -{a} needs a value"));
            switch (a)
            {
                case "namespace": ns = Value(); break;
                case "id": id = Value(); break;
                case "address": address = Value(); break;
                case "publish-binary": publish = Value(); break;
                case "bundle": bundle = Value(); break;
                case "debug": debug = inline is null or "true"; break;
                case "socket": Value(); break;
                default:
                    if (!args[i].StartsWith('-'))
                    {
                        command = args[i];
                    }
                    break;
            }
        }
        return new ShimArgs(ns, id, address, publish, bundle, debug, command);
    }

    public IReadOnlyList<string> ToDaemonArgs() =>
        ["-namespace", Namespace, "-id", Id, "-address", Address, "-publish-binary", PublishBinary, "-bundle", Bundle, .. Debug ? new[] { "-debug" } : [], ShimPaths.ServeVerb];
}
