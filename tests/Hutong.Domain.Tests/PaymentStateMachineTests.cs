using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

public class PaymentStateMachineTests
{
    // The expected table, written out independently of the production table: every (state, event) pair,
    // legal ones with their target, everything else null (illegal).
    private static readonly Dictionary<PaymentStatus, Dictionary<PaymentEvent, PaymentStatus?>> Expected = new()
    {
        [PaymentStatus.Created] = Row(attempt: PaymentStatus.Pending, cancel: PaymentStatus.Canceled, expire: PaymentStatus.Expired),
        [PaymentStatus.Pending] = Row(succeeded: PaymentStatus.Succeeded, failed: PaymentStatus.Failed, timedOut: PaymentStatus.Unknown,
            cancel: PaymentStatus.Canceled, expire: PaymentStatus.Expired),
        [PaymentStatus.Unknown] = Row(succeeded: PaymentStatus.Succeeded, failed: PaymentStatus.Failed, stillUnpaid: PaymentStatus.Pending),
        [PaymentStatus.Succeeded] = Row(),
        [PaymentStatus.Failed] = Row(attempt: PaymentStatus.Pending, succeeded: PaymentStatus.Succeeded, cancel: PaymentStatus.Canceled, expire: PaymentStatus.Expired),
        [PaymentStatus.Canceled] = Row(),
        [PaymentStatus.Expired] = Row(),
    };

    public static TheoryData<PaymentStatus, PaymentEvent> AllPairs()
    {
        var data = new TheoryData<PaymentStatus, PaymentEvent>();
        foreach (var s in Enum.GetValues<PaymentStatus>())
        {
            foreach (var e in Enum.GetValues<PaymentEvent>())
            {
                data.Add(s, e);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Every_state_event_pair_is_legal_exactly_as_the_table_says(PaymentStatus from, PaymentEvent e)
    {
        var expected = Expected[from][e];
        var result = PaymentStates.Machine.Apply(from, e);

        Assert.Equal(expected is not null, result.IsLegal);
        if (expected is { } to)
        {
            Assert.Equal(to, result.To);
            Assert.Equal(to, result.ToOrThrow());
        }
        else
        {
            Assert.Equal(from, result.To);
            Assert.Contains(from.ToWire(), result.Error);
            Assert.Throws<IllegalTransitionException>(() => result.ToOrThrow());
        }
    }

    public static TheoryData<PaymentStatus, PaymentStatus> AllMovePairs()
    {
        var data = new TheoryData<PaymentStatus, PaymentStatus>();
        foreach (var from in Enum.GetValues<PaymentStatus>())
        {
            foreach (var to in Enum.GetValues<PaymentStatus>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllMovePairs))]
    public void Every_from_to_pair_is_allowed_exactly_when_some_event_leads_there(PaymentStatus from, PaymentStatus to) =>
        Assert.Equal(Expected[from].Values.Contains(to), PaymentStates.Machine.Allows(from, to));

    [Fact]
    public void The_pair_list_covers_every_state_and_event()
    {
        Assert.Equal(Enum.GetValues<PaymentStatus>().Length * Enum.GetValues<PaymentEvent>().Length, AllPairs().Count());
        Assert.Equal(Enum.GetValues<PaymentStatus>().Length, Expected.Count);
        Assert.Equal(Expected.Values.Sum(row => row.Values.Count(to => to is not null)), PaymentStates.Machine.Table.Count);
    }

    [Theory]
    [InlineData(PaymentStatus.Succeeded)]
    [InlineData(PaymentStatus.Canceled)]
    [InlineData(PaymentStatus.Expired)]
    public void Terminal_states_accept_no_event(PaymentStatus s)
    {
        Assert.True(s.IsTerminal());
        Assert.True(PaymentStates.Machine.IsFinal(s));
        Assert.DoesNotContain(Enum.GetValues<PaymentEvent>(), e => PaymentStates.Machine.CanApply(s, e));
    }

    [Theory]
    [InlineData(PaymentStatus.Created)]
    [InlineData(PaymentStatus.Pending)]
    [InlineData(PaymentStatus.Unknown)]
    [InlineData(PaymentStatus.Failed)]
    public void Open_states_are_not_final(PaymentStatus s)
    {
        Assert.False(s.IsTerminal());
        Assert.False(PaymentStates.Machine.IsFinal(s));
    }

    [Fact]
    public void Unknown_cannot_be_canceled_or_expired_blind()
    {
        Assert.False(PaymentStates.Machine.CanApply(PaymentStatus.Unknown, PaymentEvent.Cancel));
        Assert.False(PaymentStates.Machine.CanApply(PaymentStatus.Unknown, PaymentEvent.Expire));
    }

    [Theory]
    [InlineData("created")]
    [InlineData("pending")]
    [InlineData("unknown")]
    [InlineData("succeeded")]
    [InlineData("failed")]
    [InlineData("canceled")]
    [InlineData("expired")]
    public void Wire_names_round_trip(string wire) => Assert.Equal(wire, PaymentStatusNames.FromWire(wire).ToWire());

    [Fact]
    public void Unknown_wire_status_is_an_error() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PaymentStatusNames.FromWire("paid"));

    private static Dictionary<PaymentEvent, PaymentStatus?> Row(
        PaymentStatus? attempt = null, PaymentStatus? succeeded = null, PaymentStatus? failed = null, PaymentStatus? timedOut = null,
        PaymentStatus? stillUnpaid = null, PaymentStatus? cancel = null, PaymentStatus? expire = null) => new()
        {
            [PaymentEvent.AttemptStarted] = attempt,
            [PaymentEvent.WalletSucceeded] = succeeded,
            [PaymentEvent.WalletFailed] = failed,
            [PaymentEvent.WalletTimedOut] = timedOut,
            [PaymentEvent.WalletStillUnpaid] = stillUnpaid,
            [PaymentEvent.Cancel] = cancel,
            [PaymentEvent.Expire] = expire,
        };
}
