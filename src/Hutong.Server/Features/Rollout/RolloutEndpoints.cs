using Hutong.Domain.Rollout;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Rollout;

public sealed record RolloutExplanation(string Object, string Wallet, bool Offered, string Reason, int? Bucket, int Percentage, string Explanation);

/// <summary>/v1/rollouts — staged rollout of wallets, and why a wallet was or was not offered to a buyer.</summary>
public static class RolloutEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/rollouts").WithTags("Rollouts");
        g.MapGet("/", ListAsync);
        g.MapPost("/{wallet}", SaveAsync).Accepts<RolloutRuleDto>("application/json")
            .WithSummary("Set who is offered this wallet: percentage (stable per user), allow/deny lists, categories, kill switch.");
        g.MapDelete("/{wallet}", DeleteAsync);
        g.MapGet("/{wallet}/explain", ExplainAsync).Produces<RolloutExplanation>()
            .WithSummary("Why was this wallet offered (or not) to user_id for product_category?");
        v1.MapGet("/wallets/offered", OfferedAsync).WithTags("Offered wallets")
            .WithSummary("The enabled wallets offered to a buyer (user_id) for a product category, each with the reason.");
    }

    private static async Task<ApiResult> ListAsync(HttpContext ctx, RolloutService rollout)
    {
        var rules = await rollout.RulesAsync(MerchantContext.Of(ctx).MerchantId, ctx.RequestAborted);
        return ApiResult.Ok(new
        {
            @object = "list",
            data = rules.Values.OrderBy(r => r.Wallet, StringComparer.Ordinal).Select(r => new
            {
                wallet = r.Wallet, percentage = r.Percentage, kill_switch = r.KillSwitch, allow_users = r.AllowUsers.Order(), deny_users = r.DenyUsers.Order(),
                categories = r.Categories?.Order(),
            }),
        });
    }

    private static async Task<ApiResult> SaveAsync(HttpContext ctx, string wallet, RolloutService rollout, WalletRegistry wallets)
    {
        var (body, problem) = await RequestBody.ReadAsync<RolloutRuleDto>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        var enabled = await wallets.WalletsAsync(ctx.RequestAborted);
        if (!enabled.ContainsKey(wallet))
        {
            return Problems.Invalid("wallet", $"wallet must be one of: {string.Join(", ", enabled.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (body!.Percentage is < 0 or > 100)
        {
            return Problems.Invalid("percentage", "percentage is 0 to 100.");
        }

        if (new[] { body.AllowUsers, body.DenyUsers, body.Categories }.Any(l => l is { Count: > 10_000 } || l?.Any(string.IsNullOrWhiteSpace) == true))
        {
            return Problems.Invalid("allow_users", "lists hold at most 10000 non-empty entries.");
        }

        await rollout.SaveAsync(MerchantContext.Of(ctx).MerchantId, wallet, body, ctx.RequestAborted);
        return ApiResult.Ok(new { @object = "rollout_rule", wallet, rule = body });
    }

    private static async Task<ApiResult> DeleteAsync(HttpContext ctx, string wallet, RolloutService rollout) =>
        await rollout.DeleteAsync(MerchantContext.Of(ctx).MerchantId, wallet, ctx.RequestAborted) ? ApiResult.NoContent() : Problems.NotFound("rollout rule");

    private static async Task<ApiResult> ExplainAsync(HttpContext ctx, string wallet, string? user_id, string? product_category, RolloutService rollout, WalletRegistry wallets)
    {
        if (!(await wallets.WalletsAsync(ctx.RequestAborted)).ContainsKey(wallet))
        {
            return Problems.NotFound("wallet");
        }

        var d = await rollout.DecideAsync(MerchantContext.Of(ctx).MerchantId, wallet, user_id, product_category, ctx.RequestAborted);
        return ApiResult.Ok(Explanation(wallet, d, user_id, product_category));
    }

    private static async Task<ApiResult> OfferedAsync(HttpContext ctx, string? user_id, string? product_category, RolloutService rollout, WalletRegistry wallets)
    {
        var merchantId = MerchantContext.Of(ctx).MerchantId;
        var data = new List<RolloutExplanation>();
        foreach (var wallet in (await wallets.WalletsAsync(ctx.RequestAborted)).Keys.Order(StringComparer.Ordinal))
        {
            data.Add(Explanation(wallet, await rollout.DecideAsync(merchantId, wallet, user_id, product_category, ctx.RequestAborted), user_id, product_category));
        }

        return ApiResult.Ok(new { @object = "list", data });
    }

    private static RolloutExplanation Explanation(string wallet, RolloutDecision d, string? user, string? category) =>
        new("rollout_decision", wallet, d.Offered, ToSnake(d.Reason), d.Bucket, d.Percentage, RolloutService.Explain(wallet, d, user, category));

    private static string ToSnake(RolloutReason r) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(r.ToString());
}
