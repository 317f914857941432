using Hutong.Domain.Refunds;
using Hutong.Domain.Splits;

namespace Hutong.Domain.Tests;

/// <summary>
/// Refund, split and split-return states: every (from, to) pair — for these machines the event is the state asked for, so
/// that is every (state, event) pair — against a table written out here independently.
/// </summary>
public class FollowedStateMachineTests
{
    private static readonly Dictionary<RefundState, RefundState[]> RefundMoves = new()
    {
        [RefundState.Pending] = [RefundState.Processing, RefundState.Unknown, RefundState.Succeeded, RefundState.Failed],
        [RefundState.Processing] = [RefundState.Processing, RefundState.Unknown, RefundState.Succeeded, RefundState.Failed],
        [RefundState.Unknown] = [RefundState.Processing, RefundState.Unknown, RefundState.Succeeded, RefundState.Failed],
        [RefundState.Succeeded] = [],
        [RefundState.Failed] = [],
    };

    private static readonly Dictionary<SplitOrderState, SplitOrderState[]> SplitMoves = new()
    {
        [SplitOrderState.Scheduled] = [SplitOrderState.Scheduled, SplitOrderState.Pending, SplitOrderState.Failed],
        [SplitOrderState.Pending] = [SplitOrderState.Pending, SplitOrderState.Processing, SplitOrderState.Unknown, SplitOrderState.Succeeded, SplitOrderState.Failed],
        [SplitOrderState.Processing] = [SplitOrderState.Processing, SplitOrderState.Succeeded, SplitOrderState.Failed],
        [SplitOrderState.Unknown] = [SplitOrderState.Processing, SplitOrderState.Unknown, SplitOrderState.Succeeded, SplitOrderState.Failed],
        [SplitOrderState.Succeeded] = [],
        [SplitOrderState.Failed] = [],
    };

    private static readonly Dictionary<SplitReturnState, SplitReturnState[]> ReturnMoves = new()
    {
        [SplitReturnState.AwaitingRefund] = [SplitReturnState.Pending, SplitReturnState.Succeeded, SplitReturnState.Canceled],
        [SplitReturnState.Pending] = [SplitReturnState.Unknown, SplitReturnState.Succeeded, SplitReturnState.Failed],
        [SplitReturnState.Unknown] = [SplitReturnState.Unknown, SplitReturnState.Succeeded, SplitReturnState.Failed],
        [SplitReturnState.Succeeded] = [],
        [SplitReturnState.Failed] = [],
        [SplitReturnState.Canceled] = [],
    };

    public static TheoryData<RefundState, RefundState> RefundPairs() => Pairs<RefundState>();

    public static TheoryData<SplitOrderState, SplitOrderState> SplitPairs() => Pairs<SplitOrderState>();

    public static TheoryData<SplitReturnState, SplitReturnState> ReturnPairs() => Pairs<SplitReturnState>();

    [Theory]
    [MemberData(nameof(RefundPairs))]
    public void Every_refund_move_is_legal_exactly_as_the_table_says(RefundState from, RefundState to) =>
        Check(RefundStates.Machine, RefundMoves, from, to, RefundStates.ToWire);

    [Theory]
    [MemberData(nameof(SplitPairs))]
    public void Every_split_move_is_legal_exactly_as_the_table_says(SplitOrderState from, SplitOrderState to) =>
        Check(SplitStates.Order, SplitMoves, from, to, SplitStates.ToWire);

    [Theory]
    [MemberData(nameof(ReturnPairs))]
    public void Every_split_return_move_is_legal_exactly_as_the_table_says(SplitReturnState from, SplitReturnState to) =>
        Check(SplitStates.Return, ReturnMoves, from, to, SplitStates.ToWire);

    [Fact]
    public void The_tables_cover_every_state_and_the_stored_strings_are_the_check_constraints()
    {
        Assert.Equal(Enum.GetValues<RefundState>().Length, RefundMoves.Count);
        Assert.Equal(Enum.GetValues<SplitOrderState>().Length, SplitMoves.Count);
        Assert.Equal(Enum.GetValues<SplitReturnState>().Length, ReturnMoves.Count);

        // The CHECK lists of 0004_buyer_journeys.sql (refunds) and 0008_profit_sharing.sql (splits, split_returns).
        Assert.Equal(["pending", "processing", "unknown", "succeeded", "failed"], Enum.GetValues<RefundState>().Select(RefundStates.ToWire));
        Assert.Equal(["scheduled", "pending", "processing", "unknown", "succeeded", "failed"], Enum.GetValues<SplitOrderState>().Select(SplitStates.ToWire));
        Assert.Equal(["awaiting_refund", "pending", "unknown", "succeeded", "failed", "canceled"], Enum.GetValues<SplitReturnState>().Select(SplitStates.ToWire));
        Assert.All(Enum.GetValues<RefundState>(), s => Assert.Equal(s, RefundStates.FromWire(s.ToWire())));
        Assert.All(Enum.GetValues<SplitOrderState>(), s => Assert.Equal(s, SplitStates.SplitFromWire(s.ToWire())));
        Assert.All(Enum.GetValues<SplitReturnState>(), s => Assert.Equal(s, SplitStates.ReturnFromWire(s.ToWire())));
        Assert.Throws<ArgumentOutOfRangeException>(() => RefundStates.FromWire("done"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitStates.SplitFromWire("done"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitStates.ReturnFromWire("done"));
    }

    private static TheoryData<T, T> Pairs<T>()
        where T : struct, Enum
    {
        var data = new TheoryData<T, T>();
        foreach (var a in Enum.GetValues<T>())
        {
            foreach (var b in Enum.GetValues<T>())
            {
                data.Add(a, b);
            }
        }

        return data;
    }

    private static void Check<T>(StateMachine<T, T> machine, Dictionary<T, T[]> expected, T from, T to, Func<T, string> wire)
        where T : struct, Enum
    {
        var legal = expected[from].Contains(to);
        var result = machine.Apply(from, to);
        Assert.Equal(legal, machine.Allows(from, to));
        Assert.Equal(legal, machine.CanApply(from, to));
        Assert.Equal(legal, result.IsLegal);
        Assert.Equal(expected[from].Length == 0, machine.IsFinal(from));
        Assert.Equal(expected.Values.Sum(moves => moves.Length), machine.Table.Count);
        if (legal)
        {
            Assert.Null(result.Error);
            Assert.Equal(to, result.ToOrThrow());
        }
        else
        {
            Assert.Equal(from, result.To);
            Assert.NotNull(result.Error);
            Assert.Contains(wire(from), result.Error);
            Assert.Contains(wire(to), result.Error);
            Assert.Throws<IllegalTransitionException>(() => result.ToOrThrow());
        }
    }
}
