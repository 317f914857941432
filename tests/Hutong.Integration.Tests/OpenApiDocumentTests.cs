using System.Net;
using System.Text.Json;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>The OpenAPI document is what generated clients and the reference page are built from: check what it claims.</summary>
[Collection("sqlite")]
public sealed class OpenApiDocumentTests(SqliteHub hub)
{
    // Path segments that name an action on a resource rather than the resource itself.
    private static readonly HashSet<string> Actions = ["confirm", "cancel", "revoke", "exit", "pay", "rotate_secret", "explain", "resolve", "offered", "resend", "respond", "close", "refund", "end", "settle", "write_off", "approve", "from-payments"];

    private async Task<JsonElement> DocumentAsync()
    {
        var r = await hub.Anonymous().GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        return r.Json;
    }

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement doc) =>
        doc.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()
            .Where(o => o.Name is "get" or "post" or "put" or "delete" or "patch")
            .Select(o => (p.Name, o.Name, o.Value)));

    [Fact]
    public async Task Every_operation_is_tagged_with_the_resource_its_path_names()
    {
        var doc = await DocumentAsync();
        var operations = Operations(doc).ToList();
        Assert.True(operations.Count >= 40, $"only {operations.Count} operations documented");
        foreach (var (path, method, op) in operations)
        {
            var tags = op.TryGetProperty("tags", out var t) ? t.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
            var tag = Assert.Single(tags);
            var resource = path.Split('/', StringSplitOptions.RemoveEmptyEntries)
                .Where(s => !s.StartsWith('{') && !s.Contains('.') && s is not "v1" and not "admin" && !Actions.Contains(s)) // report.csv: a representation
                .Last();
            var normalised = tag.ToLowerInvariant().Replace(' ', '_');
            Assert.True(normalised == resource || normalised.EndsWith("_" + resource, StringComparison.Ordinal), $"{method.ToUpperInvariant()} {path} is tagged '{tag}', not by its resource '{resource}'");
        }
    }

    [Fact]
    public async Task The_event_log_routes_are_documented()
    {
        var operations = Operations(await DocumentAsync()).Select(o => $"{o.Method} {o.Path.TrimEnd('/')}").ToHashSet();
        Assert.Contains("get /v1/events", operations);
        Assert.Contains("get /v1/events/{id}", operations);
        Assert.Contains("post /v1/events/{id}/resend", operations);
        Assert.Contains("post /v1/events/resend", operations);
    }

    [Fact]
    public async Task The_rollout_save_documents_its_version_and_its_conflict()
    {
        var doc = await DocumentAsync();
        var item = doc.GetProperty("paths").GetProperty("/v1/rollouts/{wallet}");
        Assert.True(item.GetProperty("get").GetProperty("responses").TryGetProperty("200", out _));
        var post = item.GetProperty("post");
        Assert.True(post.GetProperty("responses").TryGetProperty("409", out _), "POST /v1/rollouts/{wallet} does not document its 409");
        var schema = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = doc.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/').Last());
        }

        var properties = schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("version", properties);
        Assert.Contains("kill_switch", properties);
    }

    [Fact]
    public async Task Keys_and_Idempotency_Key_are_declared_where_they_are_needed()
    {
        var doc = await DocumentAsync();
        var schemes = doc.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("merchant_api_key").GetProperty("scheme").GetString());
        Assert.Equal("http", schemes.GetProperty("merchant_api_key").GetProperty("type").GetString());
        Assert.Equal("bearer", schemes.GetProperty("admin_token").GetProperty("scheme").GetString());

        foreach (var (path, method, op) in Operations(doc).Where(o => o.Path.StartsWith("/v1/", StringComparison.Ordinal) || o.Path.StartsWith("/admin/", StringComparison.Ordinal)))
        {
            var scheme = path.StartsWith("/v1/", StringComparison.Ordinal) ? "merchant_api_key" : "admin_token";
            Assert.True(op.TryGetProperty("security", out var security) && security.EnumerateArray().Any(s => s.TryGetProperty(scheme, out _)),
                $"{method.ToUpperInvariant()} {path} does not declare {scheme}");
            if (method == "post")
            {
                var header = op.TryGetProperty("parameters", out var ps)
                    ? ps.EnumerateArray().SingleOrDefault(p => p.GetProperty("name").GetString() == "Idempotency-Key")
                    : default;
                Assert.True(header.ValueKind == JsonValueKind.Object, $"POST {path} does not declare Idempotency-Key");
                Assert.Equal("header", header.GetProperty("in").GetString());
                Assert.True(header.GetProperty("required").GetBoolean());
            }
        }
    }
}
