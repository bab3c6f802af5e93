using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using Moat.Runtime;

namespace Moat.Node;

/// <summary>
/// Writes a one-layer image as a tar that both loaders here accept: an OCI image layout
/// (oci-layout, index.json, blobs/sha256/...) for <c>ctr images import</c>, plus Docker's
/// manifest.json, which dockerd 20.10's <c>docker load</c> reads (it predates OCI layouts).
/// No registry is needed.
/// </summary>
public static class ImageArchive
{
    /// <summary>Builds the archive of the directory tree <paramref name="rootfs"/> as image <paramref name="reference"/>.</summary>
    public static void Write(string rootfs, string reference, IReadOnlyList<string> cmd, string outputPath)
    {
        var (layerTar, diffId) = LayerTar(rootfs);
        var layerGz = Gzip(layerTar);
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "1970-01-01T00:00:00Z",
            ["config"] = new JsonObject
            {
                ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                ["Cmd"] = new JsonArray(cmd.Select(c => (JsonNode?)c).ToArray()),
                ["WorkingDir"] = "/",
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray("sha256:" + diffId) },
            ["history"] = new JsonArray(new JsonObject { ["created"] = "1970-01-01T00:00:00Z", ["created_by"] = "moat image archive" }),
        }.ToJsonString());
        var configDigest = Sha256(config);
        var layerDigest = Sha256(layerGz);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = Descriptor("application/vnd.oci.image.config.v1+json", configDigest, config.Length),
            ["layers"] = new JsonArray(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layerDigest, layerGz.Length)),
        }.ToJsonString());
        var manifestDigest = Sha256(manifest);
        var named = Normalize(reference);
        var manifestDescriptor = Descriptor("application/vnd.oci.image.manifest.v1+json", manifestDigest, manifest.Length);
        manifestDescriptor["annotations"] = new JsonObject
        {
            ["io.containerd.image.name"] = named,
            ["org.opencontainers.image.ref.name"] = named[(named.LastIndexOf(':') + 1)..],
        };
        var index = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray(manifestDescriptor),
        }.ToJsonString());
        var dockerManifest = Encoding.UTF8.GetBytes(new JsonArray(new JsonObject
        {
            ["Config"] = $"blobs/sha256/{configDigest}",
            ["RepoTags"] = new JsonArray(DockerTag(named)),
            ["Layers"] = new JsonArray($"blobs/sha256/{layerDigest}"),
        }).ToJsonString());

        var tmp = outputPath + ".tmp";
        using (var file = File.Create(tmp))
        using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
        {
            AddDir(tar, "blobs/");
            AddDir(tar, "blobs/sha256/");
            AddFile(tar, $"blobs/sha256/{configDigest}", config);
            AddFile(tar, $"blobs/sha256/{layerDigest}", layerGz);
            AddFile(tar, $"blobs/sha256/{manifestDigest}", manifest);
            AddFile(tar, "oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"));
            AddFile(tar, "index.json", index);
            AddFile(tar, "manifest.json", dockerManifest);
        }
        File.Move(tmp, outputPath, overwrite: true);
    }

    /// <summary>"busybox" → "docker.io/library/busybox:latest", as containerd names images.</summary>
    public static string Normalize(string reference)
    {
        var name = reference;
        if (!name.Contains(':', StringComparison.Ordinal) || name.LastIndexOf(':') < name.LastIndexOf('/'))
        {
            name += ":latest";
        }
        var first = name.Split('/')[0];
        if (!name.Contains('/', StringComparison.Ordinal))
        {
            return "docker.io/library/" + name;
        }
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"
            ? name
            : "docker.io/" + name;
    }

    private static string DockerTag(string named) =>
        named.StartsWith("docker.io/library/", StringComparison.Ordinal) ? named["docker.io/library/".Length..]
        : named.StartsWith("docker.io/", StringComparison.Ordinal) ? named["docker.io/".Length..]
        : named;

    private static JsonObject Descriptor(string mediaType, string digest, long size) => new()
    {
        ["mediaType"] = mediaType,
        ["digest"] = "sha256:" + digest,
        ["size"] = size,
    };

    /// <summary>A deterministic tar of the tree (sorted, mtime 0, root-owned), and its sha256.</summary>
    private static (byte[] Tar, string Digest) LayerTar(string rootfs)
    {
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var path in Directory.EnumerateFileSystemEntries(rootfs, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var rel = Path.GetRelativePath(rootfs, path);
                var info = new FileInfo(path);
                PaxTarEntry entry;
                if (info.LinkTarget is { } target)
                {
                    entry = new PaxTarEntry(TarEntryType.SymbolicLink, rel) { LinkName = target };
                }
                else if (Directory.Exists(path))
                {
                    entry = new PaxTarEntry(TarEntryType.Directory, rel + "/");
                }
                else
                {
                    entry = new PaxTarEntry(TarEntryType.RegularFile, rel) { DataStream = new MemoryStream(File.ReadAllBytes(path)) };
                }
                entry.Mode = File.GetUnixFileMode(path);
                entry.ModificationTime = DateTimeOffset.UnixEpoch;
                tar.WriteEntry(entry);
            }
        }
        var bytes = ms.ToArray();
        return (bytes, Sha256(bytes));
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(data);
        }
        return ms.ToArray();
    }

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static void AddDir(TarWriter tar, string name) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ed, ModificationTime = DateTimeOffset.UnixEpoch });

    private static void AddFile(TarWriter tar, string name, byte[] data) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = (UnixFileMode)0x1a4,
            ModificationTime = DateTimeOffset.UnixEpoch,
            DataStream = new MemoryStream(data),
        });
}
