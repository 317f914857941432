using System.Data.Common;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Platform subsidies as Payments needs them (implemented by Features.Subsidies), each inside the caller's transaction
/// under the payment's row lock, so the reservation, its release and its consumption commit with the change that causes them.
/// </summary>
public interface IPaymentSubsidies
{
    /// <summary>
    /// Before an attempt at <paramref name="wallet"/> is inserted: keeps, moves or releases the payment's reservation and
    /// reserves the best offer for this wallet if it fits the budget and the buyer's limits. Returns the subsidy to take
    /// off the attempt's wallet order (0: none). Updates <paramref name="payment"/>'s subsidy columns, in the row and in the store.
    /// </summary>
    Task<long> ReserveAsync(DbConnection c, DbTransaction t, PaymentRow payment, string wallet, DateTimeOffset now);

    /// <summary>The payment failed, expired or was canceled: a reserved subsidy goes back to the budget and the buyer's limit.</summary>
    Task ReleaseAsync(DbConnection c, DbTransaction t, PaymentRow payment, DateTimeOffset now);

    /// <summary>In the success transaction: the paid attempt's subsidy is consumed and posted (platform subsidy expense → merchant payable).</summary>
    Task ConsumeAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, DateTimeOffset now);
}
