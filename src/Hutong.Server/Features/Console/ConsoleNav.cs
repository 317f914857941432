using Hutong.Server.Features.Checkout;

namespace Hutong.Server.Features.Console;

/// <summary>The console's navigation: a new page adds its line here, shown to the users whose role has its permission.</summary>
public static class ConsoleNav
{
    public sealed record Item(string Id, string Href, string Zh, string En, ConsolePermission Permission);

    public static readonly Item[] Items =
    [
        new("payments", "/console/payments", "支付", "Payments", ConsolePermission.PaymentsRead),
        new("users", "/console/users", "用户", "Users", ConsolePermission.UsersRead),
        new("audit", "/console/audit", "操作日志", "Audit log", ConsolePermission.AuditRead),
        new("account", "/console/account", "我的账户", "My account", ConsolePermission.PaymentsRead),
        .. ConsoleOpsNav.Items,
    ];

    public static string RoleName(Lang l, ConsoleRole role) => role switch
    {
        ConsoleRole.Operator => l.T("运营", "operator"),
        ConsoleRole.Owner => l.T("所有者", "owner"),
        ConsoleRole.Developer => l.T("开发者", "developer"),
        ConsoleRole.Support => l.T("客服", "support"),
        ConsoleRole.Finance => l.T("财务", "finance"),
        _ => role.ToString(),
    };

    /// <summary>The confirmation a page shows after a POST redirected back to it (?done=…); unknown values show nothing.</summary>
    public static string DoneText(Lang l, string done) => done switch
    {
        "refunded" => l.T("已提交退款。", "The refund was submitted."),
        "canceled" => l.T("支付已取消。", "The payment was canceled."),
        "resent" => l.T("已重新发送通知。", "The webhook was sent again."),
        "role" => l.T("角色已修改。", "The role was changed."),
        "locked" => l.T("用户已锁定，其会话已结束。", "The user was locked and their sessions ended."),
        "active" => l.T("用户已解锁。", "The user was unlocked."),
        "removed" => l.T("用户已移除，其会话已结束。", "The user was removed and their sessions ended."),
        "totp" => l.T("已启用两步验证。", "Two-step verification is on."),
        "repeat" => l.T("这个操作已经提交过，未再次执行。", "This action was already submitted; it was not done twice."),
        _ => ConsoleOpsNav.DoneText(l, done),
    };
}
