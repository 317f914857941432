using System.Text.Json;
using System.Text.RegularExpressions;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Channels;

public sealed record CreateChannelRequest(string? Id, string? Wallet, string? Mode, JsonElement? Config);

/// <summary>
/// /admin/channels and /admin/merchants/{id}/routes/{wallet}: add wallet accounts (direct, or through an acquirer) with
/// credentials sealed at rest, and route each merchant's payments through them, with fallbacks.
/// </summary>
public static partial class ChannelAdminEndpoints
{
    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapPost("/channels", CreateAsync).Accepts<CreateChannelRequest>("application/json").WithTags("Channels");
        admin.MapGet("/channels", async (WalletRegistry wallets, CancellationToken ct) => ApiResult.Ok(new { @object = "list", data = await wallets.ListAsync(ct) })).WithTags("Channels");
        admin.MapPost("/merchants/{merchantId}/routes/{wallet}", SaveRoutesAsync).Accepts<RouteRulesDto>("application/json").WithTags("Routes");
        admin.MapGet("/merchants/{merchantId}/routes/{wallet}", async (string merchantId, string wallet, RoutingService routing, WalletRegistry wallets, MerchantStore merchants, CancellationToken ct) =>
            await UnknownRouteOwnerAsync(merchantId, wallet, wallets, merchants, ct)
            ?? await RoutesAsync(merchantId, wallet, routing, ct)).WithTags("Routes");
    }

    /// <summary>Most rules one merchant keeps for one wallet: each is checked against the channels on every save.</summary>
    public const int MaxRules = 20;

    // Routes for a merchant or wallet that does not exist would be stored and never used: say so instead.
    private static async Task<ApiResult?> UnknownRouteOwnerAsync(string merchantId, string wallet, WalletRegistry wallets, MerchantStore merchants, CancellationToken ct) =>
        !wallets.IsWalletName(wallet) ? Problems.NotFound("wallet")
        : await merchants.GetAsync(merchantId, ct) is null ? Problems.NotFound("merchant")
        : null;

    private static async Task<ApiResult> CreateAsync(HttpContext ctx, WalletRegistry wallets, WalletCatalog modules, SecretBox secrets)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreateChannelRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        if (body!.Id is null || !ChannelId().IsMatch(body.Id) || wallets.IsWalletName(body.Id))
        {
            return Problems.Invalid("id", "id is 3-64 characters of a-z, 0-9 and -, and not a wallet's own name.");
        }

        if (modules.Find(body.Wallet) is not { } wallet)
        {
            return Problems.Invalid("wallet", $"wallet is {modules.Describe()}.");
        }

        if (body.Mode is not ("direct" or "acquirer"))
        {
            return Problems.Invalid("mode", "mode is direct or acquirer (a licensed third-party institution, service-provider mode).");
        }

        if (body.Config is not { ValueKind: JsonValueKind.Object } config)
        {
            return Problems.Invalid("config", "config holds the wallet account's settings, as under Connectors:<Wallet> in configuration.");
        }

        if (!secrets.Enabled)
        {
            return ApiResult.Problem(409, "master_key_missing", "No master key is configured, so credentials cannot be stored.", "Set Hutong:MasterKey (base64 of 32 random bytes).");
        }

        try
        {
            await wallets.AddChannelAsync(body.Id, wallet.Name, body.Mode, config, ctx.RequestAborted);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or System.Security.Cryptography.CryptographicException)
        {
            return Problems.Invalid("config", "config does not make a working connector (check keys and ids).");
        }
        catch (System.Data.Common.DbException e) when (Db.IsUniqueViolation(e))
        {
            return Problems.Conflict("channel_exists", $"A channel {body.Id} already exists.");
        }

        return ApiResult.Created(new ChannelInfo(body.Id, wallet.Name, body.Mode, false));
    }

    private static async Task<ApiResult> SaveRoutesAsync(HttpContext ctx, string merchantId, string wallet, RoutingService routing, WalletRegistry wallets, MerchantStore merchants)
    {
        if (await UnknownRouteOwnerAsync(merchantId, wallet, wallets, merchants, ctx.RequestAborted) is { } unknown)
        {
            return unknown;
        }

        var (body, problem) = await RequestBody.ReadAsync<RouteRulesDto>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        var rules = body!.Rules ?? [];
        if (await RulesProblemAsync(wallet, rules, wallets, ctx.RequestAborted) is { } bad)
        {
            return Problems.Invalid("rules", bad);
        }

        // With the version the client read (GET's version), a list changed since is refused instead of overwritten.
        if (await routing.SaveAsync(merchantId, wallet, rules, ctx.RequestAborted, expectedVersion: body.Version) == RouteSave.Stale)
        {
            return RoutesChanged();
        }

        return ApiResult.Ok(new { @object = "routes", merchant_id = merchantId, wallet, rules, version = RoutingService.VersionOf(ApiJson.Serialize(rules)) });
    }

    /// <summary>A merchant's rules for a wallet as stored, with the version a conditional save hands back.</summary>
    private static async Task<ApiResult> RoutesAsync(string merchantId, string wallet, RoutingService routing, CancellationToken ct)
    {
        var (rules, version) = await routing.CurrentAsync(merchantId, wallet, ct);
        return ApiResult.Ok(new { @object = "routes", merchant_id = merchantId, wallet, rules, version });
    }

    /// <summary>The 409 a save built on an older list gets (the API's and the console's wording).</summary>
    public static ApiResult RoutesChanged() => Problems.Conflict("routes_changed", RoutesChangedTitle, RoutesChangedDetail);

    public const string RoutesChangedTitle = "The routing rules changed since they were read";

    public const string RoutesChangedDetail = "Another change was saved first, so nothing was changed. Read the rules again and make the change on them.";

    /// <summary>What is wrong with a merchant's rules for a wallet (the admin API's and the console's check), or null.</summary>
    public static async Task<string?> RulesProblemAsync(string wallet, IReadOnlyList<RouteRule> rules, WalletRegistry wallets, CancellationToken ct)
    {
        if (rules.Count > MaxRules)
        {
            return $"At most {MaxRules} rules per merchant and wallet.";
        }

        foreach (var rule in rules)
        {
            if (rule.Channel is null || await wallets.ChannelAsync(rule.Channel, ct) is not { } c || c.Wallet != wallet)
            {
                return $"channel {rule.Channel} does not exist or does not reach {wallet}.";
            }

            if (rule.MinAmount is < 0 || rule.MaxAmount is < 0 || rule.MinAmount > rule.MaxAmount)
            {
                return "min_amount and max_amount are non-negative, min ≤ max.";
            }
        }

        return null;
    }

    [GeneratedRegex("^[a-z0-9-]{3,64}$")]
    private static partial Regex ChannelId();
}
