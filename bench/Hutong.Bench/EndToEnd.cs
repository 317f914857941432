using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.WeChatPay;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server;
using Hutong.Demo;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

/// <summary>
/// End to end over real HTTP: create → confirm at the WeChat Pay sandbox (signed request, verified answer) → the
/// sandbox buyer pays → the sandbox's signed, AES-GCM-encrypted notification → the hub verifies it, records the success
/// with its ledger entries and outbox event → the webhook reaches the merchant's endpoint. A flow counts when its
/// payment.succeeded webhook arrives. Also measures RSA-2048 signing on this machine: every flow needs three signatures
/// (the hub's request, the sandbox's answer and its notification), all on the same cores here.
/// </summary>
internal static class EndToEnd
{
    public static double RsaSignsPerSecond(int millis)
    {
        using var rsa = RSA.Create(2048);
        var data = Encoding.UTF8.GetBytes("POST\n/v3/pay/transactions/native\n1700000000\nnonce\n{\"amount\":{\"total\":100}}\n");
        var sw = Stopwatch.StartNew();
        var n = 0;
        while (sw.ElapsedMilliseconds < millis)
        {
            rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            n++;
        }

        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The flows against a hub and the sandbox wallets in this process, or (<paramref name="separate"/>) each in a process of
    /// its own, as a real wallet would be: the result's hub CPU is then the hub process's alone.
    /// </summary>
    public static async Task<(LoadResult Result, long Succeeded, long LedgerEntries, long Webhooks)> RunAsync(
        StoreProvider provider, string connectionString, int secs, int conns, bool separate = false)
    {
        await using var sandboxChild = separate ? await Child.SandboxAsync() : null;
        await using var sandboxHere = separate ? null : await SandboxHost.StartAsync(logLevel: LogLevel.None);
        var sandboxUrl = sandboxChild?.BaseUrl ?? sandboxHere!.BaseUrl;
        var wechat = await WeChatPaySandboxWallet.RegisterMerchantAsync(sandboxUrl, "1900000109", "public_key", null);

        var waiting = new ConcurrentDictionary<string, TaskCompletionSource>(StringComparer.Ordinal);
        long webhooks = 0;
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        receiverBuilder.Logging.ClearProviders();
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/hook", async (HttpRequest req) =>
        {
            using var doc = await JsonDocument.ParseAsync(req.Body);
            Interlocked.Increment(ref webhooks);
            if (doc.RootElement.GetProperty("type").GetString() == "payment.succeeded"
                && waiting.TryGetValue(doc.RootElement.GetProperty("data").GetProperty("object").GetProperty("id").GetString()!, out var done))
            {
                done.TrySetResult();
            }

            return Results.NoContent();
        });
        await receiver.StartAsync();

        var settings = new Dictionary<string, string?>
        {
            ["Store:Provider"] = provider.ToString(),
            ["Store:ConnectionString"] = connectionString,
            ["Hutong:Webhooks:AllowPrivateTargets"] = "true", // the receiver is on loopback
        };
        await using var hubChild = separate ? await Child.HubAsync(settings, wechat) : null;
        await using var hubHere = separate ? null : await BenchHub.StartAsync(settings, new WalletAccounts(SandboxWiring.As(wechat, typeof(WeChatPayOptions)), null, null));
        var hubUrl = hubChild?.BaseUrl ?? hubHere!.BaseUrl;

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = conns * 2, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var (key, _) = await BenchHub.MerchantAsync(hubUrl, "e2e");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var endpoint = await PostAsync(http, hubUrl + "/v1/webhook_endpoints", $"{{\"url\":\"{receiver.Urls.First()}/hook\",\"enabled_events\":[\"payment.succeeded\"]}}");
        if (!endpoint.IsSuccessStatusCode)
        {
            throw new InvalidOperationException("could not register the webhook endpoint: " + await endpoint.Content.ReadAsStringAsync());
        }

        var run = Guid.NewGuid().ToString("N")[..6];
        long seq = 0;
        async Task<(long Ticks, bool Ok)> FlowAsync()
        {
            var n = Interlocked.Increment(ref seq);
            var t0 = Stopwatch.GetTimestamp();
            using var created = await PostAsync(http, hubUrl + "/v1/payments",
                $"{{\"amount\":{1000 + (n % 9000)},\"currency\":\"CNY\",\"description\":\"e2e {n}\",\"merchant_order_id\":\"e{run}-{n}\"}}");
            if (!created.IsSuccessStatusCode)
            {
                return (0, false);
            }

            var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            var done = waiting.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                using var confirmed = await PostAsync(http, $"{hubUrl}/v1/payments/{id}/confirm", "{\"wallet\":\"wechatpay\"}");
                var codeUrl = JsonDocument.Parse(await confirmed.Content.ReadAsStringAsync()).RootElement.GetProperty("next_action").GetProperty("code_url").GetString();
                using var paid = await http.PostAsJsonAsync(sandboxUrl + "/sandbox/wechatpay/buyer/pay", new { code_url = codeUrl }, SandboxJson.Options);
                await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
                return (Stopwatch.GetTimestamp() - t0, paid.IsSuccessStatusCode);
            }
            catch (Exception e) when (e is TimeoutException or KeyNotFoundException or InvalidOperationException)
            {
                return (Stopwatch.GetTimestamp() - t0, false);
            }
            finally
            {
                waiting.TryRemove(id, out _);
            }
        }

        // Apart, the hub's CPU per flow is the figure: measured once its hot code is compiled at tier 1, as in a hub that has
        // been up for a while (the first seconds of a process compile, and a 2 s warm-up left that inside the window).
        var result = await Load.MeasureAsync(secs, conns, FlowAsync, hubChild is null ? null : () => hubChild.Cpu, steadyWarmUp: separate,
            hubJitMethods: hubChild is null ? null : () => hubChild.JitMethods);
        await using var db = new Db(new StoreOptions { Provider = provider, ConnectionString = connectionString, MaxPoolSize = 2 });
        var succeeded = await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"), CancellationToken.None);
        var entries = await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment_captured'"), CancellationToken.None);
        return (result, succeeded, entries, Interlocked.Read(ref webhooks));
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string url, string json)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        req.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        return http.SendAsync(req);
    }
}
