namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>
/// The usual test hub with its WeChat Pay account in service-provider mode (服务商): WeChatPay:SubMchId names the
/// sub-merchant it acts for, so payouts go through the partner transfer API (docs/payouts-partner.md).
/// </summary>
public static class PartnerHub
{
    /// <summary>The sub-merchant (出资商户号) whose funds pay the transfers; the service provider is the sandbox's default mchid.</summary>
    public const string SubMchId = "1900000721";
}

public sealed class SqlitePartnerHub : SqliteHub
{
    protected override string? WeChatSubMchId => PartnerHub.SubMchId;
}

public sealed class PostgresPartnerHub : PostgresHub
{
    protected override string? WeChatSubMchId => PartnerHub.SubMchId;
}

[CollectionDefinition("sqlite-wechat-partner")]
public sealed class SqlitePartnerCollection : ICollectionFixture<SqlitePartnerHub>;

[CollectionDefinition("postgres-wechat-partner")]
public sealed class PostgresPartnerCollection : ICollectionFixture<PostgresPartnerHub>;
