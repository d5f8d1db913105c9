using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SharpLens.Tests.Server;

/// <summary>The explorer refuses what a local-only server must: foreign Host or Origin (DNS rebinding, cross-site
/// requests), paths outside its fixed asset table, and oversized requests; and it listens on loopback only.</summary>
public class ExplorerSecurityTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    /// <summary>Sends raw HTTP/1.1 so Host and the path reach the server exactly as written (no client normalisation).</summary>
    async Task<(int Status, string Body)> Raw(string requestLine, string host, string? origin = null, string? body = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, fx.Server.Address.Port);
        using var stream = client.GetStream();
        var sb = new StringBuilder($"{requestLine} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if (origin is not null) sb.Append($"Origin: {origin}\r\n");
        if (body is not null) sb.Append($"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n");
        sb.Append("\r\n");
        if (body is not null) sb.Append(body);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()));
        using var reader = new StreamReader(stream);
        string all = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        int status = int.Parse(all.Split(' ')[1]);
        return (status, all[(all.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    string Local => $"127.0.0.1:{fx.Server.Address.Port}";

    [Fact]
    public async Task Local_host_names_are_served()
    {
        Assert.Equal(200, (await Raw("GET /", Local)).Status);
        Assert.Equal(200, (await Raw("GET /api/model", $"localhost:{fx.Server.Address.Port}")).Status);
        Assert.Equal(200, (await Raw("GET /assets/plotly.min.js", Local, origin: $"http://{Local}")).Status);
        Assert.Equal("127.0.0.1", fx.Server.Address.Host);
    }

    [Theory]
    [InlineData("evil.example.com")]
    [InlineData("evil.example.com:8765")]
    [InlineData("192.168.1.20")]
    public async Task Foreign_host_is_refused(string host)
    {
        var (status, body) = await Raw("GET /api/model", host);
        Assert.Equal(403, status);
        Assert.Contains("is not local", body);
        Assert.Equal(403, (await Raw("POST /api/predict", host, body: """{"prompt": "hi"}""")).Status);
    }

    [Theory]
    [InlineData("http://evil.example.com")]
    [InlineData("https://127.0.0.1")]
    [InlineData("http://localhost:1")]
    [InlineData("null")]
    public async Task Foreign_origin_is_refused(string origin)
    {
        var (status, body) = await Raw("POST /api/predict", Local, origin, """{"prompt": "hi"}""");
        Assert.Equal(403, status);
        Assert.Contains("is not this explorer", body);
    }

    [Theory]
    [InlineData("GET /assets/../../../../etc/passwd")]
    [InlineData("GET /assets/..%2f..%2f..%2fetc%2fpasswd")]
    [InlineData("GET /assets/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("GET /assets/explorer.js/../../SharpLens.Server.dll")]
    [InlineData("GET /../../../../etc/passwd")]
    [InlineData("GET /SharpLens.Server.dll")]
    public async Task Paths_outside_the_asset_table_are_not_served(string requestLine)
    {
        var (status, body) = await Raw(requestLine, Local);
        Assert.True(status is 400 or 404, $"{requestLine}: {status}");
        Assert.DoesNotContain("root:", body);
        Assert.DoesNotContain("MZ", body[..Math.Min(2, body.Length)]);
    }

    [Fact]
    public async Task Oversized_requests_are_refused()
    {
        string big = "{\"prompt\": \"" + new string('a', 70 * 1024) + "\"}";
        var (status, body) = await Raw("POST /api/predict", Local, body: big);
        Assert.Equal(413, status);
        Assert.Contains("request refused", body);
        // still serving afterwards
        Assert.Equal(200, (await Raw("GET /api/model", Local)).Status);
    }
}
