namespace Hutong.Server.Features.Console;

/// <summary>Who a console user is: an operator (hub-wide) or one of a merchant's roles.</summary>
public enum ConsoleRole
{
    /// <summary>Runs the hub: sees and acts for every merchant.</summary>
    Operator,
    /// <summary>The merchant's administrator: everything for the merchant, including its users.</summary>
    Owner,
    /// <summary>Integrates the merchant's systems: reads payments, cancels test orders, resends webhooks.</summary>
    Developer,
    /// <summary>Answers buyers: reads payments and their timelines, changes nothing.</summary>
    Support,
    /// <summary>Money: reads payments and the audit log, refunds.</summary>
    Finance,
}

/// <summary>One thing a console user may do. A page or handler names the one it needs (<see cref="RequiresAttribute"/>).</summary>
public enum ConsolePermission
{
    PaymentsRead,
    PaymentsRefund,
    PaymentsCancel,
    WebhooksResend,
    UsersRead,
    UsersManage,
    AuditRead,
    /// <summary>Sees every merchant's data, not only its own (operators).</summary>
    AllMerchants,
    // The money, developer and operations pages (ConsoleOpsPermissions holds their rows of the table).
    MoneyRead,
    DisputesRespond,
    KeysRead,
    KeysManage,
    EventsRead,
    WebhookEndpointsManage,
    OperationsRead,
    RolloutManage,
    ReconciliationRead,
    // Share codes, host contracts, channels and routes (ConsoleOpsPermissions).
    LinksManage,
    HostsManage,
    ChannelsManage,
}

/// <summary>
/// The permission table: the only place that says which role may do what. docs/console.md shows the same table and
/// ConsolePermissionTests pins it cell by cell.
/// </summary>
public static class ConsolePermissions
{
    private static readonly Dictionary<ConsoleRole, HashSet<ConsolePermission>> Table = new()
    {
        [ConsoleRole.Operator] = [.. Enum.GetValues<ConsolePermission>()],
        [ConsoleRole.Owner] =
        [
            ConsolePermission.PaymentsRead, ConsolePermission.PaymentsRefund, ConsolePermission.PaymentsCancel, ConsolePermission.WebhooksResend,
            ConsolePermission.UsersRead, ConsolePermission.UsersManage, ConsolePermission.AuditRead,
        ],
        [ConsoleRole.Developer] = [ConsolePermission.PaymentsRead, ConsolePermission.PaymentsCancel, ConsolePermission.WebhooksResend, ConsolePermission.AuditRead],
        [ConsoleRole.Support] = [ConsolePermission.PaymentsRead],
        [ConsoleRole.Finance] = [ConsolePermission.PaymentsRead, ConsolePermission.PaymentsRefund, ConsolePermission.AuditRead],
    };

    public static bool Allows(ConsoleRole role, ConsolePermission permission) => Table[role].Contains(permission) || ConsoleOpsPermissions.Allows(role, permission);

    /// <summary>The roles a merchant user can have (an owner invites into these).</summary>
    public static readonly ConsoleRole[] MerchantRoles = [ConsoleRole.Owner, ConsoleRole.Developer, ConsoleRole.Support, ConsoleRole.Finance];

    /// <summary>The stored name of a role (console_users.role).</summary>
    public static string Name(ConsoleRole role) => role switch
    {
        ConsoleRole.Operator => "operator",
        ConsoleRole.Owner => "owner",
        ConsoleRole.Developer => "developer",
        ConsoleRole.Support => "support",
        ConsoleRole.Finance => "finance",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    public static ConsoleRole? Parse(string? name) => name switch
    {
        "operator" => ConsoleRole.Operator,
        "owner" => ConsoleRole.Owner,
        "developer" => ConsoleRole.Developer,
        "support" => ConsoleRole.Support,
        "finance" => ConsoleRole.Finance,
        _ => null,
    };
}

/// <summary>
/// The permission a console page (on its class) or one of its handlers (on the method) needs. The console's page filter
/// answers 403 without it, whatever the page renders: a hidden button is a courtesy, this is the rule.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true)]
public sealed class RequiresAttribute(ConsolePermission permission) : Attribute
{
    public ConsolePermission Permission { get; } = permission;
}

/// <summary>A console page anyone may open without signing in (sign-in, accepting an invite).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class AnonymousConsolePageAttribute : Attribute;
