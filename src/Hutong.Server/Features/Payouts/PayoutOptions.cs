namespace Hutong.Server.Features.Payouts;

/// <summary>Hutong:Payouts — limits on money sent out of merchants' balances, in minor units (fen); 0 turns a limit off.</summary>
public sealed class PayoutOptions
{
    /// <summary>The most one payout may be (default ¥50,000).</summary>
    public long MaxPerPayout { get; set; } = 5_000_000;

    /// <summary>The most one merchant may send one payee per day, China time (default ¥50,000).</summary>
    public long MaxPerPayeeDaily { get; set; } = 5_000_000;

    /// <summary>The most one merchant may send in all per day, China time (default ¥1,000,000).</summary>
    public long MaxPerMerchantDaily { get; set; } = 100_000_000;

    /// <summary>Send a new payout to the wallet right after the request (off the request); false leaves it to the job.</summary>
    public bool SendImmediately { get; set; } = true;
}
