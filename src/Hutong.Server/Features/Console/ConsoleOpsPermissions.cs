using Hutong.Server.Features.Checkout;

namespace Hutong.Server.Features.Console;

/// <summary>
/// The rows of the permission table for the money, developer and operations pages (ConsolePermissions.Allows asks this
/// table too; the operator has every permission there already). docs/console-pages.md shows the same table and
/// ConsoleOpsBrowserTests pins the writes.
/// </summary>
public static class ConsoleOpsPermissions
{
    private static readonly Dictionary<ConsoleRole, HashSet<ConsolePermission>> Table = new()
    {
        [ConsoleRole.Operator] = [],
        [ConsoleRole.Owner] =
        [
            ConsolePermission.MoneyRead, ConsolePermission.DisputesRespond, ConsolePermission.KeysRead, ConsolePermission.KeysManage,
            ConsolePermission.EventsRead, ConsolePermission.WebhookEndpointsManage, ConsolePermission.OperationsRead, ConsolePermission.RolloutManage,
            ConsolePermission.LinksManage, ConsolePermission.HostsManage,
        ],
        [ConsoleRole.Developer] =
        [
            ConsolePermission.KeysRead, ConsolePermission.KeysManage, ConsolePermission.EventsRead, ConsolePermission.WebhookEndpointsManage,
            ConsolePermission.OperationsRead, ConsolePermission.LinksManage,
        ],
        [ConsoleRole.Support] = [ConsolePermission.EventsRead],
        [ConsoleRole.Finance] = [ConsolePermission.MoneyRead, ConsolePermission.DisputesRespond],
    };

    public static bool Allows(ConsoleRole role, ConsolePermission permission) => Table.TryGetValue(role, out var set) && set.Contains(permission);
}

/// <summary>The navigation lines and post-redirect confirmations of the money, developer and operations pages.</summary>
public static class ConsoleOpsNav
{
    public static readonly ConsoleNav.Item[] Items =
    [
        new("money", "/console/money", "资金", "Money", ConsolePermission.MoneyRead),
        new("charts", "/console/charts", "图表", "Charts", ConsolePermission.PaymentsRead),
        new("keys", "/console/developers/keys", "API 密钥", "API keys", ConsolePermission.KeysRead),
        new("events", "/console/developers/events", "事件", "Events", ConsolePermission.EventsRead),
        new("webhooks", "/console/developers/webhooks", "Webhook 端点", "Webhook endpoints", ConsolePermission.EventsRead),
        new("rollout", "/console/operations/rollout", "灰度发布", "Rollout", ConsolePermission.OperationsRead),
        new("links", "/console/operations/links", "链接与口令", "Links", ConsolePermission.OperationsRead),
        new("reconciliation", "/console/money/reconciliation", "对账", "Reconciliation", ConsolePermission.ReconciliationRead),
        new("hosts", "/console/money/hosts", "主播合约", "Host contracts", ConsolePermission.MoneyRead),
        new("channels", "/console/operations/channels", "渠道与路由", "Channels and routes", ConsolePermission.ChannelsManage),
    ];

    public static string DoneText(Lang l, string done) => done switch
    {
        "key-revoked" => l.T("API 密钥已吊销，立即失效。", "The API key was revoked; it stops working at once."),
        "rollout-saved" => l.T("灰度规则已保存，立即生效。", "The rollout rule was saved and applies at once."),
        "endpoint-disabled" => l.T("端点已停用，不再收到新事件。", "The endpoint was disabled; it gets no new events."),
        "endpoint-enabled" => l.T("端点已启用。", "The endpoint was enabled."),
        "event-resent" => l.T("事件已重新排队发送。", "The event was queued to be sent again."),
        "dispute-responded" => l.T("回复已发给钱包。", "The answer was sent to the wallet."),
        "dispute-closed" => l.T("投诉已在钱包处完结。", "The complaint was closed at the wallet."),
        "dispute-refunded" => l.T("退款已发起，结果会显示在支付详情中。", "The refund was made; its result shows on the payment."),
        "share-code-created" => l.T("口令已生成。", "The share code was created."),
        "share-code-revoked" => l.T("口令已吊销，立即失效。", "The share code was revoked; it stops working at once."),
        "contract-ended" => l.T("合约已终止。", "The contract was ended."),
        "contract-created" => l.T("合约已创建。", "The contract was created."),
        "routes-saved" => l.T("路由规则已保存，立即生效。", "The routing rules were saved and apply at once."),
        _ => string.Empty,
    };
}
