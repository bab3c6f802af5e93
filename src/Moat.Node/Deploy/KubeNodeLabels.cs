using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Moat.Runtime;

namespace Moat.Node.Deploy;

/// <summary>
/// Sets one label on this node through the Kubernetes API (a JSON merge patch of the Node), as
/// the DaemonSet's service account may (deploy/moat-deploy.yaml grants get/patch on nodes). In a
/// pod it finds the API server, token and CA where Kubernetes puts them.
/// </summary>
public sealed class KubeNodeLabels : IDisposable
{
    private const string ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
    private readonly HttpClient _http;
    private readonly string _node;

    public KubeNodeLabels(Uri server, string node, string? token, X509Certificate2? ca)
    {
        var handler = new SocketsHttpHandler();
        if (ca is not null)
        {
            // As client-go with the service account's ca.crt: the server's name must match, its
            // certificate must be a server's, and its chain must end at the cluster's CA alone.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, presented, errors) =>
                certificate is not null && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
                && ChainsTo(ca, new X509Certificate2(certificate), presented);
        }
        _http = new HttpClient(handler) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        _node = node;
    }

    /// <summary>The in-cluster API (KUBERNETES_SERVICE_HOST/PORT, the service account's token and CA), or null outside a pod.</summary>
    public static KubeNodeLabels? InCluster(string node)
    {
        var host = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST");
        var port = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port) || !File.Exists(Path.Combine(ServiceAccountDir, "token")))
        {
            return null;
        }
        var hostPart = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        return new KubeNodeLabels(new Uri($"https://{hostPart}:{port}/"), node,
            File.ReadAllText(Path.Combine(ServiceAccountDir, "token")).Trim(),
            X509Certificate2.CreateFromPemFile(Path.Combine(ServiceAccountDir, "ca.crt")));
    }

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> on the node; null removes it.</summary>
    public async Task SetAsync(string key, string? value, CancellationToken ct)
    {
        var json = value is null ? "null" : System.Text.Json.JsonSerializer.Serialize(value, KubeJson.Default.String);
        var body = $"{{\"metadata\":{{\"labels\":{{{System.Text.Json.JsonSerializer.Serialize(key, KubeJson.Default.String)}:{json}}}}}}}";
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"api/v1/nodes/{Uri.EscapeDataString(_node)}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/merge-patch+json"),
        };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"labelling node {_node} {key}={value ?? "(removed)"}: cannot reach the API server at {_http.BaseAddress}: {e.Message}");
        }
        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            var detail = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
                $"labelling node {_node} {key}={value ?? "(removed)"}: the API server answered {(int)response.StatusCode}: {GuestText.OneLine(detail, 300)}: check that the service account may patch nodes (deploy/moat-deploy.yaml)");
        }
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate2 server, X509Chain? presented)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(ServerAuthOid));
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the server sent
            }
        }
        return chain.Build(server);
    }

    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    public void Dispose() => _http.Dispose();
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class KubeJson : System.Text.Json.Serialization.JsonSerializerContext;
