namespace Hutong.Server.Features.Console.Pages;

/// <summary>The audit log: every console action (sign-ins and refusals included), newest first, 100 a page.</summary>
[Requires(ConsolePermission.AuditRead)]
public sealed class AuditModel(ConsoleStore store) : ConsolePageModel
{
    public const int PageSize = 100;

    public override string Title => L.T("操作日志", "Audit log");

    public List<ConsoleAuditRow> Rows { get; private set; } = [];

    public async Task OnGetAsync(long? before, CancellationToken ct) => Rows = await store.AuditPageAsync(Me.Scope, before, PageSize, ct);
}
