using Hutong.Domain.Rollout;
using Hutong.Server.Features.Rollout;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Rollout per wallet for one merchant: the rules, the live "would this buyer see this wallet, and why" check (the same
/// RolloutService.DecideAsync the cashier asks) and a percentage control that saves through RolloutService.SaveAsync
/// (the API's path: every hub instance drops its cached rules when it commits), keeping the rule's lists and kill switch.
/// The form carries the version of the rule it was built from and the save is conditional on it: a rule changed since
/// (a kill switch or list set through the API, another user's percentage) is not overwritten; the page answers 409
/// rollout_changed with the rule as it is now.
/// </summary>
[Requires(ConsolePermission.OperationsRead)]
public sealed class RolloutModel(RolloutService rollout, WalletRegistry registry, ConsoleOpsQueries queries, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("灰度发布", "Rollout");

    public IReadOnlyList<string> Wallets { get; private set; } = [];

    public IReadOnlyDictionary<string, RolloutRule> Rules { get; private set; } = new Dictionary<string, RolloutRule>();

    [BindProperty(SupportsGet = true)]
    public string? Wallet { get; set; }

    [BindProperty(SupportsGet = true, Name = "user")]
    public string? Buyer { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Category { get; set; }

    [BindProperty]
    public int? Percentage { get; set; }

    /// <summary>The version of the wallet's rule the submitted form was built from (TextVersion).</summary>
    [BindProperty]
    public string? Version { get; set; }

    /// <summary>Per wallet, the version of the stored rule shown (each form hands it back).</summary>
    public IReadOnlyDictionary<string, string> Versions { get; private set; } = new Dictionary<string, string>();

    public RolloutDecision? Decision { get; private set; }

    public string? ReasonCode => Decision is { } d ? System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(d.Reason.ToString()) : null;

    public string? Why { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (await LoadAsync(ct) is { } notFound)
        {
            return notFound;
        }

        if (MerchantId is { } merchant && Wallet is { } wallet && Wallets.Contains(wallet))
        {
            var user = string.IsNullOrWhiteSpace(Buyer) ? null : Buyer.Trim();
            var category = string.IsNullOrWhiteSpace(Category) ? null : Category.Trim();
            var d = await rollout.DecideAsync(merchant, wallet, user, category, ct);
            Decision = d;
            Why = L.En ? RolloutService.Explain(wallet, d, user, category) : ExplainZh(L.WalletName(wallet), d, user, category);
        }

        return Page();
    }

    [Requires(ConsolePermission.RolloutManage)]
    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (await LoadAsync(ct) is { } notFound || MerchantId is not { } merchant)
        {
            return NotFoundPage();
        }

        var actor = Actor("rollout.saved", merchant, Wallet, $"percentage {Percentage}");
        if (Wallet is not { } wallet || !Wallets.Contains(wallet) || Percentage is not (>= 0 and <= 100))
        {
            await store.AuditAsync(actor with { Action = "rollout.refused", Detail = "validation_error" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(400, "validation_error", L.T("比例须为 0 到 100", "The percentage is 0 to 100"), null);
            return Page();
        }

        // The lists and the kill switch are kept as stored, and only if the rule is still the one the form was built from:
        // the write is conditional on its version, so a change made meanwhile is refused, never overwritten.
        var (old, version) = await rollout.CurrentAsync(merchant, wallet, ct);
        var dto = old is null
            ? new RolloutRuleDto(Percentage, null, null, null, null)
            : old with { Percentage = Percentage };
        if (Version != version
            || !await rollout.SaveAsync(merchant, wallet, dto, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds()), Version))
        {
            await store.AuditAsync(actor with { Action = "rollout.refused", Detail = "rollout_changed" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            await LoadAsync(ct);
            Problem = new ConsoleProblem(409, "rollout_changed", L.T("打开页面后灰度规则已被修改", "The rollout rule changed since you opened this page"),
                L.T("别人先保存了修改，你的修改没有保存。下面是现在的规则，请重新加载后在它的基础上操作。",
                    "Someone else saved a change first, so yours was not saved. The rules below are as they are now: reload the page and make your change on them."));
            Response.StatusCode = StatusCodes.Status409Conflict;
            return Page();
        }

        return LocalRedirect("/console/operations/rollout?done=rollout-saved" + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty));
    }

    private async Task<IActionResult?> LoadAsync(CancellationToken ct)
    {
        Wallets = (await registry.WalletsAsync(ct)).Keys.Order(StringComparer.Ordinal).ToList();
        if (MerchantId is { } merchant)
        {
            if (!await queries.MerchantExistsAsync(merchant, ct))
            {
                return NotFoundPage();
            }

            // As stored, not as cached: the versions the forms carry must be the stored rules'.
            var rules = new Dictionary<string, RolloutRule>(StringComparer.Ordinal);
            var versions = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var w in Wallets)
            {
                var (dto, version) = await rollout.CurrentAsync(merchant, w, ct);
                versions[w] = version;
                if (dto is not null)
                {
                    rules[w] = RolloutService.ToRule(w, dto);
                }
            }

            Rules = rules;
            Versions = versions;
        }

        return null;
    }

    private static string ExplainZh(string wallet, RolloutDecision d, string? user, string? category) => d.Reason switch
    {
        RolloutReason.NoRule => $"{wallet}没有灰度规则，对所有买家开放。",
        RolloutReason.KillSwitch => $"{wallet}的总开关已关闭，对所有买家都不显示。",
        RolloutReason.DenyListed => $"买家 {user} 在{wallet}的黑名单中。",
        RolloutReason.AllowListed => $"买家 {user} 在{wallet}的白名单中。",
        RolloutReason.CategoryNotIncluded => $"{wallet}只对部分商品类目开放，“{category ?? "（无）"}”不在其中。",
        RolloutReason.NoUser => $"{wallet}对 {d.Percentage}% 的买家开放，但没有买家标识，无法分桶。",
        RolloutReason.InsidePercentage when d.Bucket is null => $"{wallet}对这个类目的所有买家开放。",
        RolloutReason.InsidePercentage => $"买家 {user} 在第 {d.Bucket} 号桶（共 100 个），在{wallet}开放的 {d.Percentage}% 之内。",
        RolloutReason.OutsidePercentage => $"买家 {user} 在第 {d.Bucket} 号桶（共 100 个），在{wallet}开放的 {d.Percentage}% 之外。",
        _ => d.Reason.ToString(),
    };
}
