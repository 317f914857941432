using System.Globalization;
using Hutong.Server.Features.Hosts;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Livestream hosts' contracts for one merchant (guaranteed minimum, revenue share, or the greater of the two), read by
/// MoneyRead (owner, finance, operator); an owner (HostsManage) signs a new one through HostService.CreateContractAsync,
/// POST /v1/host_contracts' path, under the form's Idempotency-Key, with the audit line in the contract's transaction.
/// </summary>
[Requires(ConsolePermission.MoneyRead)]
public sealed class HostsModel(HostService hosts, ConsoleOpsQueries queries, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("主播合约", "Host contracts");

    public IReadOnlyList<HostContractDto> Contracts { get; private set; } = [];

    public IReadOnlyDictionary<string, HostDto> Hosts { get; private set; } = new Dictionary<string, HostDto>();

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty]
    public string? Host { get; set; }

    [BindProperty]
    public string? StartDate { get; set; }

    [BindProperty]
    public string? Model { get; set; }

    [BindProperty]
    public string? Guarantee { get; set; }

    [BindProperty]
    public string? SharePercent { get; set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct) => await LoadAsync(ct) ? Page() : NotFoundPage();

    [Requires(ConsolePermission.HostsManage)]
    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct) || MerchantId is not { } merchant)
        {
            return NotFoundPage();
        }

        // Yuan and percent as typed; the service checks what each model needs (its RFC 9457 problem is shown as it is).
        long? guarantee = string.IsNullOrWhiteSpace(Guarantee) ? null : ConsoleFormat.Fen(Guarantee) ?? -1;
        int? basisPoints = null;
        if (!string.IsNullOrWhiteSpace(SharePercent))
        {
            basisPoints = decimal.TryParse(SharePercent.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var pct) && pct * 100 == decimal.Truncate(pct * 100) && pct is > 0 and <= 100
                ? (int)(pct * 100) : -1;
        }

        var request = new CreateHostContractRequest(Host, StartDate, Model, guarantee, basisPoints, "CNY");
        var actor = Actor("host_contract.created", merchant, Host, $"{Model} {StartDate} guarantee {guarantee} share {basisPoints} bp");
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"host-contract:{Host}:{StartDate}:{Model}:{guarantee}:{basisPoints}", time, idem =>
            hosts.CreateContractAsync(merchant, request, idem, ct,
                (c, t, id) => ConsoleStore.AuditAsync(c, t, actor with { Target = id }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        if (result.Repeated)
        {
            return LocalRedirect(Back("repeat"));
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "host_contract.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure) with
            {
                Detail = failure.Errors is { Count: > 0 } errors ? string.Join(" ", errors.SelectMany(e => e.Value)) : failure.Detail,
            };
            return Page();
        }

        return LocalRedirect($"/console/money/hosts/{result.Outcome.Value!.Id}?done=contract-created" + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty));
    }

    private string Back(string done) => "/console/money/hosts?done=" + done + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty);

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant)
        {
            return true;
        }

        if (!await queries.MerchantExistsAsync(merchant, ct))
        {
            return false;
        }

        Contracts = await hosts.ContractsAsync(merchant, null, ct);
        Hosts = (await hosts.HostsAsync(merchant, ct)).ToDictionary(h => h.Id, StringComparer.Ordinal);
        return true;
    }

    public static string ModelName(Checkout.Lang l, string model) => model switch
    {
        "guaranteed_minimum" => l.T("保底", "Guaranteed minimum"),
        "revenue_share" => l.T("分成", "Revenue share"),
        "greater_of" => l.T("保底与分成取高", "Greater of the two"),
        _ => model,
    };

    public static string StatusName(Checkout.Lang l, string status) => status switch
    {
        "scheduled" => l.T("未开始", "Scheduled"),
        "active" => l.T("生效中", "Active"),
        "exited" => l.T("已提前终止", "Ended early"),
        "ended" => l.T("已到期", "Ended"),
        _ => status,
    };
}

/// <summary>
/// One contract and its monthly statements (HostService.ListStatementsAsync, GET /v1/host_contracts/{id}/statements):
/// per month the attributed sales (gross), the share, the guarantee, what is payable, the true-up, the income tax
/// withheld and the net pay — read-only. An owner ends the contract after a confirmation (HostService.ExitAsync, POST
/// /v1/host_contracts/{id}/exit). Another merchant's contract is 404.
/// </summary>
[Requires(ConsolePermission.MoneyRead)]
public sealed class HostContractModel(HostService hosts, ConsoleOpsQueries queries, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("主播合约", "Host contract");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string? Confirm { get; set; }

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty]
    public string? Date { get; set; }

    public HostContractDto? Contract { get; private set; }

    public HostDto? HostOf { get; private set; }

    public IReadOnlyList<HostStatementDto> Statements { get; private set; } = [];

    public string? ContractMerchant { get; private set; }

    public bool CanEnd => Can(ConsolePermission.HostsManage) && Contract is { Status: "active" or "scheduled" };

    public string Today => DateOnly.FromDateTime(time.GetUtcNow().ToOffset(ConsoleFormat.ChinaOffset).DateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public async Task<IActionResult> OnGetAsync(CancellationToken ct) => await LoadAsync(ct) ? Page() : NotFoundPage();

    [Requires(ConsolePermission.HostsManage)]
    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        var merchant = ContractMerchant!;
        var date = string.IsNullOrWhiteSpace(Date) ? null : Date.Trim();
        var actor = Actor("host_contract.ended", merchant, Id, date);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"host-contract-exit:{Id}:{date}", time, idem =>
            hosts.ExitAsync(merchant, Id, new ExitHostContractRequest(date), idem, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        var back = $"/console/money/hosts/{Uri.EscapeDataString(Id)}?done=";
        if (result.Repeated)
        {
            return LocalRedirect(back + "repeat");
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "host_contract.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            await LoadAsync(ct);
            return Page();
        }

        return LocalRedirect(back + "contract-ended");
    }

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        if (Id is not { Length: > 0 and <= 64 } || await queries.HostContractMerchantAsync(Me.Scope, Id, ct) is not { } merchant)
        {
            return false;
        }

        ContractMerchant = merchant;
        Contract = (await hosts.ContractsAsync(merchant, Id, ct)).FirstOrDefault();
        if (Contract is null)
        {
            return false;
        }

        HostOf = (await hosts.HostsAsync(merchant, ct)).FirstOrDefault(h => h.Id == Contract.Host);
        Statements = await hosts.StatementsAsync(merchant, Id, ct);
        return true;
    }
}
