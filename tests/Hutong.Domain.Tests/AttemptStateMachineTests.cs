using System.Text.RegularExpressions;
using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

public partial class AttemptStateMachineTests
{
    private const AttemptStatus Requested = AttemptStatus.Requested, Open = AttemptStatus.Open, Unknown = AttemptStatus.Unknown,
        Succeeded = AttemptStatus.Succeeded, Failed = AttemptStatus.Failed, Closed = AttemptStatus.Closed, Stuck = AttemptStatus.Stuck;

    // The expected table, written out independently of the production one: every (state, event) pair, illegal ones absent.
    private static readonly Dictionary<(AttemptStatus, AttemptEvent), AttemptStatus> Expected = new()
    {
        [(Requested, AttemptEvent.WalletAccepted)] = Open,
        [(Requested, AttemptEvent.WalletRejected)] = Failed,
        [(Requested, AttemptEvent.WalletTimedOut)] = Unknown,
        [(Requested, AttemptEvent.WalletPaid)] = Succeeded,
        [(Requested, AttemptEvent.WalletPaymentFailed)] = Failed,
        [(Requested, AttemptEvent.Closed)] = Closed,
        [(Requested, AttemptEvent.GaveUp)] = Stuck,
        [(Open, AttemptEvent.WalletPaid)] = Succeeded,
        [(Open, AttemptEvent.WalletPaymentFailed)] = Failed,
        [(Open, AttemptEvent.Closed)] = Closed,
        [(Unknown, AttemptEvent.WalletAccepted)] = Open,
        [(Unknown, AttemptEvent.WalletRejected)] = Failed,
        [(Unknown, AttemptEvent.WalletTimedOut)] = Unknown,
        [(Unknown, AttemptEvent.WalletPaid)] = Succeeded,
        [(Unknown, AttemptEvent.WalletPaymentFailed)] = Failed,
        [(Unknown, AttemptEvent.Closed)] = Closed,
        [(Unknown, AttemptEvent.GaveUp)] = Stuck,
        [(Failed, AttemptEvent.WalletPaid)] = Succeeded,
        [(Closed, AttemptEvent.WalletPaid)] = Succeeded,
        [(Stuck, AttemptEvent.WalletPaid)] = Succeeded,
        [(Stuck, AttemptEvent.WalletPaymentFailed)] = Failed,
    };

    // Every (from, to) an attempt may make, by any event.
    private static readonly HashSet<(AttemptStatus, AttemptStatus)> ExpectedMoves =
    [
        (Requested, Open), (Requested, Failed), (Requested, Unknown), (Requested, Succeeded), (Requested, Closed), (Requested, Stuck),
        (Open, Succeeded), (Open, Failed), (Open, Closed),
        (Unknown, Open), (Unknown, Failed), (Unknown, Unknown), (Unknown, Succeeded), (Unknown, Closed), (Unknown, Stuck),
        (Failed, Succeeded), (Closed, Succeeded), (Stuck, Succeeded), (Stuck, Failed),
    ];

    public static TheoryData<AttemptStatus, AttemptEvent> AllEventPairs()
    {
        var data = new TheoryData<AttemptStatus, AttemptEvent>();
        foreach (var s in Enum.GetValues<AttemptStatus>())
        {
            foreach (var e in Enum.GetValues<AttemptEvent>())
            {
                data.Add(s, e);
            }
        }

        return data;
    }

    public static TheoryData<AttemptStatus, AttemptStatus> AllMovePairs()
    {
        var data = new TheoryData<AttemptStatus, AttemptStatus>();
        foreach (var from in Enum.GetValues<AttemptStatus>())
        {
            foreach (var to in Enum.GetValues<AttemptStatus>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllEventPairs))]
    public void Every_state_event_pair_is_legal_exactly_as_the_table_says(AttemptStatus from, AttemptEvent e)
    {
        var legal = Expected.TryGetValue((from, e), out var to);
        var result = AttemptStates.Machine.Apply(from, e);
        Assert.Equal(legal, AttemptStates.Machine.CanApply(from, e));
        Assert.Equal(legal, result.IsLegal);
        if (legal)
        {
            Assert.Equal(to, result.ToOrThrow());
        }
        else
        {
            Assert.Equal(from, result.To);
            Assert.Contains(from.ToWire(), result.Error);
            Assert.Throws<IllegalTransitionException>(() => result.ToOrThrow());
        }
    }

    [Theory]
    [MemberData(nameof(AllMovePairs))]
    public void Every_from_to_pair_is_allowed_exactly_as_the_table_says(AttemptStatus from, AttemptStatus to) =>
        Assert.Equal(ExpectedMoves.Contains((from, to)), AttemptStates.Machine.Allows(from, to));

    [Fact]
    public void The_pair_lists_cover_every_state_and_event()
    {
        Assert.Equal(Enum.GetValues<AttemptStatus>().Length * Enum.GetValues<AttemptEvent>().Length, AllEventPairs().Count());
        Assert.Equal(Enum.GetValues<AttemptStatus>().Length * Enum.GetValues<AttemptStatus>().Length, AllMovePairs().Count());
        Assert.Equal(Expected.Count, AttemptStates.Machine.Table.Count);
    }

    [Fact]
    public void A_succeeded_attempt_takes_no_event_and_any_other_can_still_be_paid()
    {
        Assert.DoesNotContain(Enum.GetValues<AttemptEvent>(), e => AttemptStates.Machine.CanApply(Succeeded, e));
        Assert.True(Succeeded.IsTerminal());
        Assert.All(Enum.GetValues<AttemptStatus>().Where(s => s != Succeeded), s =>
        {
            Assert.False(s.IsTerminal());
            Assert.Equal(Succeeded, AttemptStates.Machine.Apply(s, AttemptEvent.WalletPaid).ToOrThrow());
        });
    }

    [Fact]
    public void The_enum_is_exactly_the_sql_check_of_payment_attempts_status()
    {
        var sql = File.ReadAllText(Path.Combine(RepoRoot(), "src", "Hutong.Server", "Storage", "Migrations", "0001_initial.sql"));
        var table = sql[sql.IndexOf("CREATE TABLE payment_attempts", StringComparison.Ordinal)..];
        var check = CheckValues().Match(table);
        Assert.True(check.Success);
        var values = check.Groups[1].Value.Split(',').Select(v => v.Trim().Trim('\'')).ToArray();
        Assert.Equal(values, Enum.GetValues<AttemptStatus>().Select(s => s.ToWire()));
        Assert.All(values, v => Assert.Equal(v, AttemptStatusNames.FromWire(v).ToWire()));
    }

    [Fact]
    public void Unknown_wire_status_is_an_error() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AttemptStatusNames.FromWire("paid"));

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hutong.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Hutong.slnx not found above the test's directory.");
    }

    [GeneratedRegex(@"status\s+TEXT NOT NULL CHECK \(status IN \(([^)]*)\)\)")]
    private static partial Regex CheckValues();
}
