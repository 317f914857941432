using Hutong.Server.Features.Workers;

namespace Hutong.Server.Features.Ledger;

/// <summary>The hash-chained double-entry ledger. HubApp composes the hub from these calls.</summary>
public static class LedgerFeature
{
    public static IServiceCollection AddLedger(this IServiceCollection s)
    {
        s.AddSingleton<LedgerStore>();
        s.AddJob<LedgerSealJob>();
        return s;
    }
}
