using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Hutong.Integration.Tests.Infrastructure;

public sealed record ApiResponse(HttpStatusCode Status, string Body, HttpResponseHeaders Headers, HttpContentHeaders? ContentHeaders)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Str(string name) => Json.GetProperty(name).GetString()!;

    public override string ToString() => $"{(int)Status} {Body}";
}

/// <summary>A merchant (or operator) talking to the hub's REST API over real HTTP.</summary>
public sealed class ApiClient(HttpClient http, string bearer, Func<string>? diagnostics = null)
{
    public string Key => bearer;

    public Task<ApiResponse> PostAsync(string path, object? body = null, string? idempotencyKey = "new", string? rawBody = null, string contentType = "application/json")
    {
        var content = rawBody is not null
            ? new StringContent(rawBody, Encoding.UTF8)
            : new StringContent(body is null ? string.Empty : JsonSerializer.Serialize(body), Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey == "new" ? Guid.NewGuid().ToString() : idempotencyKey);
        }

        return SendAsync(request);
    }

    public Task<ApiResponse> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

    public Task<ApiResponse> DeleteAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Delete, path));

    public async Task<ApiResponse> SendAsync(HttpRequestMessage request)
    {
        if (bearer.Length > 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using (request)
        {
            using var response = await http.SendAsync(request);
            return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers, response.Content.Headers);
        }
    }

    public async Task<string> CreatePaymentAsync(long amount = 1234, string? orderId = null, int? expiresIn = null)
    {
        var r = await PostAsync("/v1/payments", new
        {
            amount,
            currency = "CNY",
            description = "测试商品 test item",
            merchant_order_id = orderId ?? "ord-" + Guid.NewGuid().ToString("N")[..12],
            expires_in_seconds = expiresIn,
        });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return r.Str("id");
    }

    public async Task<ApiResponse> ConfirmAsync(string id, string? idempotencyKey = "new", string wallet = "wechatpay") =>
        await PostAsync($"/v1/payments/{id}/confirm", new { wallet }, idempotencyKey);

    public async Task<ApiResponse> WaitForStatusAsync(string id, string status, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        ApiResponse last;
        do
        {
            last = await GetAsync($"/v1/payments/{id}");
            if (last.Status == HttpStatusCode.OK && last.Str("status") == status)
            {
                return last;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"payment {id} did not reach {status}; last: {last}\n{diagnostics?.Invoke()}");
        return last;
    }
}
