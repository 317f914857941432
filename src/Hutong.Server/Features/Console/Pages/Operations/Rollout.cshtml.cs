using Hutong.Domain.Rollout;
using Hutong.Server.Features.Rollout;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Rollout per wallet for one merchant: the rules, the live "would this buyer see this wallet, and why" check (the same
/// RolloutService.DecideAsync the cashier asks) and a percentage control that saves through RolloutService.SaveAsync
/// (the API's path: every hub instance drops its cached rules when it commits), keeping the rule's lists.
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

        // Setting a percentage is idempotent by nature (the same value twice is the same rule); the lists are kept.
        var old = Rules.GetValueOrDefault(wallet);
        var dto = new RolloutRuleDto(Percentage, old?.KillSwitch, old?.AllowUsers.Order(StringComparer.Ordinal).ToList(),
            old?.DenyUsers.Order(StringComparer.Ordinal).ToList(), old?.Categories?.Order(StringComparer.Ordinal).ToList());
        await rollout.SaveAsync(merchant, wallet, dto, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds()));
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

            Rules = await rollout.RulesAsync(merchant, ct);
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
