using System.Net;
using System.Net.Sockets;
using System.Text;
using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Connectors.Tests.Http;

/// <summary>
/// The wallets' shared HttpClient never sends a POST twice on its own: after a 5xx or a timeout the wallet may have acted
/// (the caller queries instead). Reads are retried; a POST that could not connect at all is retried too.
/// </summary>
public sealed class ConnectorRetryTests
{
    [Theory]
    [InlineData("POST", 1)]
    [InlineData("GET", 2)]
    public async Task A_5xx_is_retried_for_a_read_and_never_for_a_post(string method, int expectedRequests)
    {
        using var server = new CountingServer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        using var http = Client(TimeSpan.FromSeconds(10)); // an answer always comes: no attempt may time out on a busy box

        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), server.Url) { Content = method == "POST" ? new StringContent("{}") : null });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(expectedRequests, server.Requests);
    }

    [Fact]
    public async Task A_post_that_only_reads_is_retried_like_a_get()
    {
        // Alipay's and UnionPay's gateways take queries as form POSTs: a query lost to a 5xx is asked again at once.
        using var server = new CountingServer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        using var http = Client(TimeSpan.FromSeconds(10));

        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, server.Url) { Content = new StringContent("{}") }.AsRead());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task A_post_whose_answer_is_late_is_not_sent_again()
    {
        using var server = new CountingServer(null); // reads the request, never answers: the attempt times out
        using var http = Client(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<Exception>(() => http.PostAsync(server.Url, new StringContent("{}")));

        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public void A_post_that_could_not_connect_is_retried()
    {
        var refused = Polly.Outcome.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        var cutOff = Polly.Outcome.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ResponseEnded, "ended"));

        Assert.True(ConnectorHttp.ShouldRetry(HttpMethod.Post, refused));
        Assert.False(ConnectorHttp.ShouldRetry(HttpMethod.Post, cutOff));
        Assert.True(ConnectorHttp.ShouldRetry(HttpMethod.Get, cutOff));
    }

    [Fact]
    public async Task An_answer_longer_than_the_bound_is_not_read_and_counts_as_no_answer()
    {
        // Every read of an outside answer is bounded: a body past the client's bound fails the call (no answer → UNKNOWN,
        // settled by query) instead of being buffered whole. The same body within the bound is read.
        var body = new string('x', 64 * 1024);
        using var server = new CountingServer($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
        using var small = Client(TimeSpan.FromSeconds(10), maxAnswerBytes: 16 * 1024);
        using var large = Client(TimeSpan.FromSeconds(10), maxAnswerBytes: 128 * 1024);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => small.GetStringAsync(server.Url));
        Assert.True(ConnectorHttp.IsNoAnswer(e), e.ToString());
        Assert.Equal(body.Length, (await large.GetStringAsync(server.Url)).Length);
        using var wallets = Client(TimeSpan.FromSeconds(1));
        Assert.Equal(ConnectorHttp.DefaultMaxAnswerBytes, wallets.MaxResponseContentBufferSize);
    }

    private static HttpClient Client(TimeSpan attemptTimeout, long maxAnswerBytes = ConnectorHttp.DefaultMaxAnswerBytes)
    {
        var services = new ServiceCollection();
        services.AddResilientClient("retry-test", attemptTimeout, attemptTimeout * 3, maxRetries: 1, maxAnswerBytes);
        return services.BuildServiceProvider().GetRequiredService<IHttpClientFactory>().CreateClient("retry-test");
    }

    /// <summary>A loopback HTTP server that counts the requests it reads and answers each with a fixed response (or never).</summary>
    private sealed class CountingServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private int _requests;

        public CountingServer(string? response)
        {
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v3/refund";
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = Task.Run(async () =>
                    {
                        using var c = client;
                        var stream = c.GetStream();
                        var buffer = new byte[8192];
                        var read = new StringBuilder();
                        while (!read.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            var n = await stream.ReadAsync(buffer, _stop.Token);
                            if (n == 0)
                            {
                                return;
                            }

                            read.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        }

                        Interlocked.Increment(ref _requests);
                        if (response is null)
                        {
                            await Task.Delay(Timeout.Infinite, _stop.Token);
                        }

                        await stream.WriteAsync(Encoding.ASCII.GetBytes(response!), _stop.Token);
                    });
                }
            });
        }

        public string Url { get; }

        public int Requests => Volatile.Read(ref _requests);

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
