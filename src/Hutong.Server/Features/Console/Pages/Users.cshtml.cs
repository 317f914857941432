using Hutong.Server.Features.Checkout;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>A merchant's console users (every user, for operators): invite by a one-time link, change role, lock, remove.</summary>
[Requires(ConsolePermission.UsersRead)]
public sealed class UsersModel(ConsoleStore store, ConsoleAccounts accounts, Merchants.MerchantStore merchants, TimeProvider time) : ConsolePageModel
{
    public override string Title => L.T("用户", "Users");

    public List<ConsoleUserRow> Users { get; private set; } = [];

    public List<ConsoleInviteRow> Invites { get; private set; } = [];

    public string? InviteLink { get; private set; }

    public async Task OnGetAsync(CancellationToken ct) => await LoadAsync(ct);

    [Requires(ConsolePermission.UsersManage)]
    public async Task<IActionResult> OnPostInviteAsync(string? email, string? role, string? merchant, CancellationToken ct)
    {
        var merchantId = Me.Scope ?? merchant?.Trim();
        var parsed = ConsolePermissions.Parse(role);
        if (email is not { Length: >= 3 and <= 200 } || !email.Contains('@', StringComparison.Ordinal) || parsed is null or ConsoleRole.Operator || string.IsNullOrEmpty(merchantId))
        {
            Problem = new ConsoleProblem(400, "validation_error", L.T("邀请信息不完整", "The invite is not valid"), L.T("需要邮箱和角色。", "An email and a role are needed."));
        }
        else if (await store.UserByEmailAsync(ConsoleAccounts.NormalizeEmail(email), ct) is not null)
        {
            Problem = new ConsoleProblem(409, "email_taken", L.T("这个邮箱已有用户", "A user has this email already"), null);
        }
        else if (await merchants.GetAsync(merchantId, ct) is null)
        {
            Problem = new ConsoleProblem(404, "not_found", L.T("没有这个商户", "No such merchant"), null);
        }
        else
        {
            var token = await accounts.InviteAsync(Actor("user.invited", merchantId), merchantId, email, parsed.Value, ct);
            InviteLink = $"{Request.Scheme}://{Request.Host}/console/invite/{token}";
        }

        await LoadAsync(ct);
        return Page();
    }

    [Requires(ConsolePermission.UsersManage)]
    public async Task<IActionResult> OnPostRoleAsync(string? userId, string? role, CancellationToken ct)
    {
        var parsed = ConsolePermissions.Parse(role);
        var ok = userId is not null && userId != Me.Session.UserId && parsed is { } r && r != ConsoleRole.Operator
            && await accounts.ChangeRoleAsync(Actor("user.role_changed", Me.Session.MerchantId), userId, Me.Scope, r, ct);
        return ok ? LocalRedirect("/console/users?done=role") : await RefusedAsync(ct);
    }

    [Requires(ConsolePermission.UsersManage)]
    public async Task<IActionResult> OnPostStatusAsync(string? userId, string? status, CancellationToken ct)
    {
        var ok = userId is not null && userId != Me.Session.UserId && status is "active" or "locked" or "removed"
            && await store.UserAsync(userId, ct) is { Role: not "operator" } target
            && await accounts.SetStatusAsync(Actor("user." + status, target.MerchantId), userId, Me.Scope, status!, ct);
        return ok ? LocalRedirect("/console/users?done=" + status) : await RefusedAsync(ct);
    }

    private async Task<IActionResult> RefusedAsync(CancellationToken ct)
    {
        Problem = new ConsoleProblem(404, "not_found", L.T("没有这个用户，或不能修改", "No such user, or it cannot be changed"), null);
        await LoadAsync(ct);
        return Page();
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        Users = await store.UsersAsync(Me.Scope, ct);
        Invites = await store.OpenInvitesAsync(Me.Scope, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
    }

    public static string StatusName(Lang l, string status) => status switch
    {
        "active" => l.T("正常", "active"),
        "locked" => l.T("已锁定", "locked"),
        "removed" => l.T("已移除", "removed"),
        _ => status,
    };
}
