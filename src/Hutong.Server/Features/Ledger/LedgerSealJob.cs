using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Ledger;

/// <summary>
/// PostgreSQL: links the entries appended since its last pass into the ledger's hash chain and folds their lines into the
/// kept balances (<see cref="LedgerStore.SealAsync"/>). A singleton: the chain is one line, so one hub at a time seals
/// (and the chain's own lock keeps `hutong ledger verify`, which seals first, in turn with it). Off on SQLite, where
/// each append links at once.
/// </summary>
public sealed class LedgerSealJob(LedgerStore ledger, Db db, HubMetrics metrics, TimeProvider time, ILogger<LedgerSealJob> log)
    : HubJob("ledger-seal", db, metrics, time, log)
{
    public override bool Singleton => true;

    public override bool Enabled => Db.IsPostgres;

    // Balances read the unsealed lines too, so the interval bounds no answer: only how long an entry waits for its link,
    // and how many unsealed rows of a busy account each posting's balance read adds up (a quarter second of them).
    protected override TimeSpan Interval => TimeSpan.FromMilliseconds(250);

    protected override async Task PassAsync(CancellationToken ct) => Meter.Processed(await ledger.SealAsync(ct));
}
