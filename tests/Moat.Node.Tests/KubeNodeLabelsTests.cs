using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Moat.Node.Deploy;

namespace Moat.Node.Tests;

/// <summary>The node label patch over TLS, as in a cluster: a stand-in API server whose certificate a test CA signed.</summary>
public sealed class KubeNodeLabelsTests : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _server;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public KubeNodeLabelsTests()
    {
        var ca = new CertificateRequest("CN=test-cluster-ca", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        ca.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        ca.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = ca.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var serverKey = RSA.Create(2048);
        var server = new CertificateRequest("CN=kubernetes", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        server.CertificateExtensions.Add(san.Build());
        server.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = server.Create(_ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1), [1, 2, 3, 4]);
        _server = X509CertificateLoader.LoadPkcs12(signed.CopyWithPrivateKey(serverKey).Export(X509ContentType.Pkcs12), null);
        _listener.Start();
    }

    private Uri Server => new($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>Answers one request with 200 and returns its head and body.</summary>
    private async Task<string> AnswerOneAsync()
    {
        using var client = await _listener.AcceptTcpClientAsync();
        await using var tls = new SslStream(client.GetStream());
        try
        {
            await tls.AuthenticateAsServerAsync(_server);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return "refused by the client";
        }
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) || !seen.ToString().EndsWith('}'))
        {
            // Under TLS 1.3 the server's handshake ends before the client has checked its certificate.
            var n = await tls.ReadAsync(buffer).AsTask().ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : 0, TaskScheduler.Default);
            if (n == 0)
            {
                return seen.Length == 0 ? "refused by the client" : seen.ToString();
            }
            seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        await tls.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"u8.ToArray());
        return seen.ToString();
    }

    [Fact]
    public async Task TheLabelIsPatchedWithTheTokenToAServerTheClusterCaSigned()
    {
        var served = AnswerOneAsync();
        using var labels = new KubeNodeLabels(Server, "node-1", "the-token", _ca);
        await labels.SetAsync(DeployLayout.LabelKey, DeployLayout.Ready, CancellationToken.None);
        var request = await served;
        Assert.StartsWith("PATCH /api/v1/nodes/node-1 HTTP/1.1\r\n", request);
        Assert.Contains("Authorization: Bearer the-token\r\n", request);
        Assert.Contains("Content-Type: application/merge-patch+json", request);
        Assert.EndsWith("{\"metadata\":{\"labels\":{\"moat.io/runtime\":\"ready\"}}}", request);
    }

    [Fact]
    public async Task AServerAnotherCaSignedIsRefused()
    {
        using var otherKey = RSA.Create(2048);
        using var other = new CertificateRequest("CN=other-ca", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var served = AnswerOneAsync();
        using var labels = new KubeNodeLabels(Server, "node-1", "the-token", other);
        var e = await Assert.ThrowsAsync<Moat.Runtime.RuntimeException>(() => labels.SetAsync(DeployLayout.LabelKey, DeployLayout.Ready, CancellationToken.None));
        Assert.Contains("cannot reach the API server", e.Message);
        Assert.Equal("refused by the client", await served); // the token never went out
    }

    [Fact]
    public async Task AServerTheCaSignedForAnotherNameIsRefused()
    {
        // Another certificate of the cluster's CA (a kubelet's, say) must not pass for the API server.
        _listener.Stop();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=node-2", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("node-2.cluster.local");
        request.CertificateExtensions.Add(san.Build());
        using var signed = request.Create(_ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1), [5, 6, 7, 8]);
        using var cert = X509CertificateLoader.LoadPkcs12(signed.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
        var served = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(client.GetStream());
            try
            {
                await tls.AuthenticateAsServerAsync(cert);
                return await tls.ReadAsync(new byte[1024]) == 0 ? "refused by the client" : "the client sent a request";
            }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
            {
                return "refused by the client";
            }
        });
        using var labels = new KubeNodeLabels(new Uri($"https://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"), "node-1", "the-token", _ca);
        await Assert.ThrowsAsync<Moat.Runtime.RuntimeException>(() => labels.SetAsync(DeployLayout.LabelKey, DeployLayout.Ready, CancellationToken.None));
        Assert.Equal("refused by the client", await served);
    }

    public void Dispose()
    {
        _listener.Stop();
        _server.Dispose();
        _ca.Dispose();
        _caKey.Dispose();
    }
}
