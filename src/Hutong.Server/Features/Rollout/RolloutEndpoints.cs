using Hutong.Domain.Rollout;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Rollout;

/// <summary>
/// The body of POST /v1/rollouts/{wallet}: the rule, and optionally the <see cref="Version"/> it was built from (a GET's or
/// a save's <c>version</c>). With it the save is conditional: a rule changed since is refused (409 rollout_changed) instead
/// of overwritten. Without it the rule is replaced, as before versions existed.
/// </summary>
public sealed record SaveRolloutRequest(
    int? Percentage,
    bool? KillSwitch,
    IReadOnlyList<string>? AllowUsers,
    IReadOnlyList<string>? DenyUsers,
    IReadOnlyList<string>? Categories,
    string? Version = null)
{
    /// <summary>The rule as it is stored (the version is not part of it).</summary>
    public RolloutRuleDto ToRule() => new(Percentage, KillSwitch, AllowUsers, DenyUsers, Categories);
}

/// <summary>A wallet's rule as stored (absent: no rule, offered to everyone) and its version ("0" when there is none).</summary>
public sealed record RolloutRuleView(string Object, string Wallet, RolloutRuleDto? Rule, string Version)
{
    public RolloutRuleView(string wallet, RolloutRuleDto? rule, string version)
        : this("rollout_rule", wallet, rule, version)
    {
    }
}

public sealed record RolloutExplanation(string Object, string Wallet, bool Offered, string Reason, int? Bucket, int Percentage, string Explanation);

/// <summary>/v1/rollouts — staged rollout of wallets, and why a wallet was or was not offered to a buyer.</summary>
public static class RolloutEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/rollouts").WithTags("Rollouts");
        g.MapGet("/", ListAsync);
        g.MapGet("/{wallet}", GetAsync).Produces<RolloutRuleView>().ProducesProblem(404)
            .WithSummary("The wallet's rule as stored, and its version (\"0\" when there is no rule) for a conditional save.");
        g.MapPost("/{wallet}", SaveAsync).Accepts<SaveRolloutRequest>("application/json").Produces<RolloutRuleView>().ProducesProblem(400).ProducesProblem(409)
            .WithSummary("Set who is offered this wallet: percentage (stable per user), allow/deny lists, categories, kill switch. "
                + "With version (from a GET or a save) the save is refused (409 rollout_changed, with the rule as it is now) when the rule changed since.");
        g.MapDelete("/{wallet}", DeleteAsync).Produces(204).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Remove the wallet's rule (it is then offered to everyone). With ?version= (from a GET or a save) only that rule: "
                + "a rule changed since is kept and the delete refused (409 rollout_changed, with the rule as it is now).");
        g.MapGet("/{wallet}/explain", ExplainAsync).Produces<RolloutExplanation>()
            .WithSummary("Why was this wallet offered (or not) to user_id for product_category?");
        v1.MapGet("/wallets/offered", OfferedAsync).WithTags("Offered wallets")
            .WithSummary("The enabled wallets offered to a buyer (user_id) for a product category, each with the reason.");
    }

    // As stored, not as cached: each version must be the stored rule's, or a save built on it could be refused for nothing.
    private static async Task<ApiResult> ListAsync(HttpContext ctx, RolloutService rollout)
    {
        var rules = await rollout.StoredAsync(MerchantContext.Of(ctx).MerchantId, ctx.RequestAborted);
        return ApiResult.Ok(new
        {
            @object = "list",
            data = rules.Select(s => (Rule: RolloutService.ToRule(s.Wallet, s.Rule), s.Version)).Select(x => new
            {
                wallet = x.Rule.Wallet, percentage = x.Rule.Percentage, kill_switch = x.Rule.KillSwitch, allow_users = x.Rule.AllowUsers.Order(),
                deny_users = x.Rule.DenyUsers.Order(), categories = x.Rule.Categories?.Order(), version = x.Version,
            }),
        });
    }

    private static async Task<ApiResult> GetAsync(HttpContext ctx, string wallet, RolloutService rollout, WalletRegistry wallets)
    {
        if (!(await wallets.WalletsAsync(ctx.RequestAborted)).ContainsKey(wallet))
        {
            return Problems.NotFound("wallet");
        }

        var (rule, version) = await rollout.CurrentAsync(MerchantContext.Of(ctx).MerchantId, wallet, ctx.RequestAborted);
        return ApiResult.Ok(new RolloutRuleView(wallet, rule, version));
    }

    private static async Task<ApiResult> SaveAsync(HttpContext ctx, string wallet, RolloutService rollout, WalletRegistry wallets)
    {
        var (body, problem) = await RequestBody.ReadAsync<SaveRolloutRequest>(ctx.Request);
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

        if (body.Version is { } v && !IsVersion(v))
        {
            return Problems.Invalid("version", "version is the version a GET or a save answered: \"0\" or 16 hex digits.");
        }

        // The answer is stored with the rule, in its transaction: a retry whose save committed gets this answer, never a
        // 409 for the version its own save moved on.
        var merchantId = MerchantContext.Of(ctx).MerchantId;
        var rule = body.ToRule();
        var answer = ApiResult.Ok(new RolloutRuleView(wallet, rule, RolloutService.VersionOf(rule)));
        var idem = IdempotencyContext.Of(ctx);
        if (!await rollout.SaveAsync(merchantId, wallet, rule, ctx.RequestAborted, idem is null ? null : (c, t) => idem.CompleteAsync(c, t, answer), body.Version))
        {
            var (current, version) = await rollout.CurrentAsync(merchantId, wallet, ctx.RequestAborted);
            return RolloutChanged(wallet, current, version);
        }

        return answer;
    }

    /// <summary>
    /// The 409 a save built on an older rule gets (like the admin routes API's routes_changed and the console's
    /// rollout_changed), with the rule as it is now and its version: nothing was written.
    /// </summary>
    public static ApiResult RolloutChanged(string wallet, RolloutRuleDto? current, string version) =>
        ApiResult.Problem(409, "rollout_changed", RolloutChangedTitle, RolloutChangedDetail, new { wallet, rule = current, version });

    public const string RolloutChangedTitle = "The rollout rule changed since it was read";

    public const string RolloutChangedDetail = "Another change was saved first, so nothing was changed. rule and version are the rule as it is now: make the change on them.";

    private static bool IsVersion(string v) =>
        v == TextVersion.None || (v.Length == 16 && v.All(ch => ch is (>= '0' and <= '9') or (>= 'a' and <= 'f')));

    private static async Task<ApiResult> DeleteAsync(HttpContext ctx, string wallet, string? version, RolloutService rollout)
    {
        if (version is not null && !IsVersion(version))
        {
            return Problems.Invalid("version", "version is the version a GET or a save answered: \"0\" or 16 hex digits.");
        }

        var merchantId = MerchantContext.Of(ctx).MerchantId;
        switch (await rollout.DeleteAsync(merchantId, wallet, ctx.RequestAborted, version))
        {
            case RolloutDeletion.Deleted:
                return ApiResult.NoContent();
            case RolloutDeletion.Changed:
                var (current, now) = await rollout.CurrentAsync(merchantId, wallet, ctx.RequestAborted);
                return RolloutChanged(wallet, current, now);
            default:
                return Problems.NotFound("rollout rule");
        }
    }

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
