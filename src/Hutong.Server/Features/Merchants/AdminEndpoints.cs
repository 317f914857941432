using Hutong.Domain;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Merchants;

public sealed record CreateMerchantRequest(string? Name);

public sealed record ApiKeyDto(string Id, string Object, string MerchantId, string Prefix, string? Secret);

public sealed record MerchantDto(string Id, string Object, string Name, DateTimeOffset CreatedAt);

public sealed record OnboardedMerchant(MerchantDto Merchant, ApiKeyDto ApiKey);

/// <summary>/admin — operator endpoints to onboard merchants and manage their API keys (admin token).</summary>
public static class AdminEndpoints
{
    public static void Map(RouteGroupBuilder admin)
    {
        // Tagged per endpoint: a tag on the shared /admin group would apply to every operator endpoint.
        admin.MapPost("/merchants", CreateMerchantAsync).Accepts<CreateMerchantRequest>("application/json").Produces<OnboardedMerchant>(201).WithTags("Merchants");
        admin.MapPost("/merchants/{id}/api_keys", CreateKeyAsync).Produces<ApiKeyDto>(201).ProducesProblem(404).WithTags("API keys");
        admin.MapPost("/api_keys/{id}/revoke", RevokeKeyAsync).Produces(200).ProducesProblem(404).WithTags("API keys");
    }

    private static async Task<ApiResult> CreateMerchantAsync(HttpContext ctx, MerchantStore merchants)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreateMerchantRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(body!.Name) || body.Name.Length > 100)
        {
            return Problems.Invalid("name", "name is required, at most 100 characters.");
        }

        // Buyers read it on the cashier page: a bidirectional override could make it read as another shop's name.
        if (!PlainText.IsPrintable(body.Name))
        {
            return Problems.Invalid("name", "name " + PlainText.Refusal);
        }

        ApiResult? result = null;
        var idem = IdempotencyContext.Of(ctx);
        await merchants.CreateMerchantAsync(body.Name.Trim(), ctx.RequestAborted, async (c, t, m, key) =>
        {
            var merchant = new MerchantDto(m.Id, "merchant", m.Name, DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedAt));
            result = ApiResult.Created(new OnboardedMerchant(merchant, new ApiKeyDto(key.Id, "api_key", m.Id, key.Prefix, key.Secret)))
                .WithoutSecretsWhenStored(new OnboardedMerchant(merchant, new ApiKeyDto(key.Id, "api_key", m.Id, key.Prefix, null)));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }
        });
        return result!;
    }

    private static async Task<ApiResult> CreateKeyAsync(HttpContext ctx, MerchantId id, MerchantStore merchants) =>
        await merchants.CreateKeyAsync(id.Value, ctx.RequestAborted) is { } key
            ? ApiResult.Created(new ApiKeyDto(key.Id, "api_key", key.MerchantId, key.Prefix, key.Secret))
                .WithoutSecretsWhenStored(new ApiKeyDto(key.Id, "api_key", key.MerchantId, key.Prefix, null))
            : Problems.NotFound("merchant");

    private static async Task<ApiResult> RevokeKeyAsync(HttpContext ctx, ApiKeyId id, MerchantStore merchants) =>
        await merchants.RevokeKeyAsync(id.Value, ctx.RequestAborted)
            ? ApiResult.Ok(new { id = id.Value, @object = "api_key", revoked = true })
            : Problems.NotFound("api key");
}
