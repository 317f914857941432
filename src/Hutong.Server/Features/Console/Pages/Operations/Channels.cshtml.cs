using Hutong.Server.Features.Channels;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Operators only (ChannelsManage): the hub's channels — the configured wallet accounts and those added through POST
/// /admin/channels, direct or through an acquirer (service-provider mode) — with this instance's view of their health,
/// and for one merchant (?merchant=) its routing rules per wallet as stored (RoutingService.CurrentAsync, GET
/// /admin/merchants/{id}/routes/{wallet}). A rule is added, or removed after a confirmation, by saving the wallet's
/// whole list through RoutingService.SaveAsync after the admin API's own check (ChannelAdminEndpoints.RulesProblemAsync),
/// with the audit line in the rules' transaction. Each form carries the version of the list it was built from and the
/// save is conditional on it: when someone changed the list meanwhile, the page answers 409 routes_changed with the list
/// as it is now, and nothing is written (no lost update between two operators, or an operator and the admin API).
/// Channels cannot be switched on or off through the API (the staged rollout's kill switch does that per merchant and
/// wallet), so this page does not offer it.
/// </summary>
[Requires(ConsolePermission.ChannelsManage)]
public sealed class ChannelsModel(WalletRegistry wallets, RoutingService routing, ConsoleOpsQueries queries, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("渠道与路由", "Channels and routes");

    public IReadOnlyList<ChannelInfo> Channels { get; private set; } = [];

    public IReadOnlyList<string> Wallets { get; private set; } = [];

    public IReadOnlyDictionary<string, IReadOnlyList<RouteRule>> Routes { get; private set; } = new Dictionary<string, IReadOnlyList<RouteRule>>();

    /// <summary>Per wallet, the version of the list shown (RoutingService.VersionOf): each form hands it back.</summary>
    public IReadOnlyDictionary<string, string> Versions { get; private set; } = new Dictionary<string, string>();

    /// <summary>The version of the list the submitted form (or the remove link) was built from.</summary>
    [BindProperty(SupportsGet = true)]
    public string? Version { get; set; }

    public bool Healthy(string channel) => routing.IsHealthy(channel);

    /// <summary>?remove=wallet:index — the rule whose removal the page asks to confirm.</summary>
    [BindProperty(SupportsGet = true)]
    public string? Remove { get; set; }

    public (string Wallet, int Index, RouteRule Rule)? Removing { get; private set; }

    [BindProperty]
    public string? Wallet { get; set; }

    [BindProperty]
    public int? Index { get; set; }

    [BindProperty]
    public string? Channel { get; set; }

    [BindProperty]
    public string? Min { get; set; }

    [BindProperty]
    public string? Max { get; set; }

    [BindProperty]
    public string? Categories { get; set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        if (Remove?.Split(':') is [var w, var i] && int.TryParse(i, out var index) && Routes.TryGetValue(w, out var rules) && index >= 0 && index < rules.Count)
        {
            // The link names a rule by its place in the list it was shown in: in a list changed since, that place may hold another rule.
            if (Version is not null && Version != Versions[w])
            {
                RoutesChanged();
            }
            else
            {
                Removing = (w, index, rules[index]);
            }
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAddAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct) || MerchantId is not { } merchant || Wallet is not { } wallet || !Routes.TryGetValue(wallet, out var old))
        {
            return NotFoundPage();
        }

        long? min = string.IsNullOrWhiteSpace(Min) ? null : ConsoleFormat.Fen(Min) ?? -1;
        long? max = string.IsNullOrWhiteSpace(Max) ? null : ConsoleFormat.Fen(Max) ?? -1;
        var categories = string.IsNullOrWhiteSpace(Categories) ? null
            : Categories.Split([',', '，'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var rule = new RouteRule(Channel, min, max, categories, null);
        return await SaveAsync(merchant, wallet, [.. old, rule], Actor("routes.saved", merchant, wallet, $"added {Channel} {min}-{max}"), ct);
    }

    public async Task<IActionResult> OnPostRemoveAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct) || MerchantId is not { } merchant || Wallet is not { } wallet || !Routes.TryGetValue(wallet, out var old)
            || Index is not { } index || index < 0 || index >= old.Count)
        {
            return NotFoundPage();
        }

        var rules = old.Where((_, i) => i != index).ToList();
        return await SaveAsync(merchant, wallet, rules, Actor("routes.saved", merchant, wallet, $"removed {old[index].Channel} #{index}"), ct);
    }

    private async Task<IActionResult> SaveAsync(string merchant, string wallet, IReadOnlyList<RouteRule> rules, ConsoleAuditEntry actor, CancellationToken ct)
    {
        if (await ChannelAdminEndpoints.RulesProblemAsync(wallet, rules, wallets, ct) is { } bad)
        {
            await store.AuditAsync(actor with { Action = "routes.refused", Detail = bad }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(400, "validation_error", L.T("路由规则不对", "The routing rule is not valid"), bad);
            return Page();
        }

        // Conditional on the version the form was built from: a list changed meanwhile (another operator, the admin API) is
        // not overwritten. Saving is idempotent by nature otherwise (the same form twice finds its version gone: 409, nothing
        // written); every instance drops its cache on commit.
        if (Version != Versions[wallet]
            || await routing.SaveAsync(merchant, wallet, rules, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds()), Version) == RouteSave.Stale)
        {
            await store.AuditAsync(actor with { Action = "routes.refused", Detail = "routes_changed" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            await LoadAsync(ct);
            RoutesChanged();
            return Page();
        }

        return LocalRedirect("/console/operations/channels?done=routes-saved&merchant=" + Uri.EscapeDataString(merchant));
    }

    /// <summary>The 409 problem page of a form built on a list that changed since (the admin API's routes_changed).</summary>
    private void RoutesChanged()
    {
        Problem = new ConsoleProblem(409, "routes_changed", L.T("打开页面后路由规则已被修改", "The routing rules changed since you opened this page"),
            L.T("别人先保存了修改，你的修改没有保存。下面是现在的规则，请重新加载后在它们的基础上操作。",
                "Someone else saved a change first, so yours was not saved. The rules below are as they are now: reload the page and make your change on them."));
        Response.StatusCode = StatusCodes.Status409Conflict;
    }

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        Channels = await wallets.ListAsync(ct);
        Wallets = (await wallets.WalletsAsync(ct)).Keys.Order(StringComparer.Ordinal).ToList();
        if (MerchantId is not { } merchant)
        {
            return true;
        }

        if (!await queries.MerchantExistsAsync(merchant, ct))
        {
            return false;
        }

        // As stored, not as cached: the versions the forms carry must be the stored lists'.
        var routes = new Dictionary<string, IReadOnlyList<RouteRule>>(StringComparer.Ordinal);
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var w in Wallets)
        {
            (routes[w], versions[w]) = await routing.CurrentAsync(merchant, w, ct);
        }

        Routes = routes;
        Versions = versions;
        return true;
    }

    public string RuleText(RouteRule r) =>
        $"{(r.MinAmount is { } min ? Money(min) : "0")} – {(r.MaxAmount is { } max ? Money(max) : "∞")}" +
        (r.Categories is { Count: > 0 } c ? " · " + L.T("类目 ", "categories ") + string.Join(", ", c) : string.Empty) +
        (r.Users is { Count: > 0 } u ? " · " + u.Count + L.T(" 个买家", " buyers") : string.Empty);
}
