using Hutong.Domain.Ledger;
using Hutong.Domain.Splits;

namespace Hutong.Domain.Tests;

/// <summary>How much of a receiver's clawback the next amount owed to it carries, and what may be closed by hand.</summary>
public class ClawbackNettingTests
{
    [Theory]
    [InlineData(500, 0, 1, 500, 0)] // nothing owed back: sent whole
    [InlineData(500, 250, 1, 250, 250)] // the whole debt netted
    [InlineData(500, 499, 1, 1, 499)]
    [InlineData(500, 500, 1, 1, 499)] // the wallet still gets its minimum; 1 fen of debt waits for the next amount
    [InlineData(500, 9_000, 1, 1, 499)]
    [InlineData(1, 100, 1, 1, 0)] // an amount at the minimum carries nothing
    [InlineData(1_000, 995, 10, 10, 990)] // a transfer keeps its 10 fen
    [InlineData(5, 100, 10, 5, 0)] // below the minimum already: sent as asked (the wallet's own checks decide)
    public void The_offset_is_as_much_of_the_debt_as_the_amount_can_carry_above_the_wallets_minimum(long owed, long outstanding, long minSend, long send, long offset)
    {
        var net = ClawbackNetting.Net(owed, outstanding, minSend);
        Assert.Equal(new ClawbackNet(send, offset), net);
        Assert.Equal(owed, net.Send + net.Offset);
    }

    [Fact]
    public void Netting_never_takes_more_than_is_owed_either_way()
    {
        var rng = new Random(16);
        for (var i = 0; i < 10_000; i++)
        {
            var owed = rng.NextInt64(1, 1_000_000);
            var outstanding = rng.NextInt64(0, 2_000_000);
            var min = rng.NextInt64(0, 20);
            var net = ClawbackNetting.Net(owed, outstanding, min);
            Assert.InRange(net.Offset, 0, Math.Min(owed, outstanding));
            Assert.Equal(owed, net.Send + net.Offset);
            Assert.True(net.Send >= Math.Min(owed, min));
        }
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(Money.MaxAmount + 1)]
    public void An_amount_owed_out_of_range_is_a_bug(long owed) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ClawbackNetting.Net(owed, 10, 1));

    [Theory]
    [InlineData(250L, 250L, null)]
    [InlineData(1L, 250L, null)]
    [InlineData(251L, 250L, "clawback_amount_exceeds_outstanding")]
    [InlineData(1L, 0L, "clawback_amount_exceeds_outstanding")]
    [InlineData(0L, 250L, "validation_error")]
    [InlineData(null, 250L, "validation_error")]
    public void Closing_by_hand_takes_1_up_to_what_is_owed(long? amount, long outstanding, string? refused)
    {
        var failure = ClawbackNetting.CheckClose(amount, outstanding);
        Assert.Equal(refused, failure?.Code);
        if (failure is not null)
        {
            Assert.Equal("amount", failure.Param);
        }
    }

    [Fact]
    public void Closing_a_clawback_reverses_its_memorandum_pair()
    {
        var due = Postings.ClawbackDue("rcv_1", "m_1", new Money(250, Currency.Cny));
        var closed = Postings.ClawbackClosed("rcv_1", "m_1", new Money(250, Currency.Cny));
        Postings.EnsureBalanced(closed);
        Assert.All(due.Concat(closed).GroupBy(l => l.Account), g => Assert.Equal(0, g.Sum(l => l.Amount)));
    }
}
