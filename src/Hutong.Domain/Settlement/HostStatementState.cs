namespace Hutong.Domain.Settlement;

/// <summary>Where a host statement's pay is. Stored as the strings of the host_statements.status CHECK constraint.</summary>
public enum HostStatementState
{
    /// <summary>Settled and posted; nothing sent yet, or its last payout failed (it may be paid again).</summary>
    Payable,

    /// <summary>A payout of its net pay is in flight; the statement follows it.</summary>
    Paying,

    /// <summary>The host has the money (or there was nothing to send). Final.</summary>
    Paid,
}

public static class HostStatementStates
{
    /// <summary>Every move a statement may make: paid through a payout, back to payable when that payout fails.</summary>
    public static readonly StateMachine<HostStatementState, HostStatementState> Machine = StateMachine.OfMoves<HostStatementState>("host statement",
    [
        (HostStatementState.Payable, HostStatementState.Paying),
        (HostStatementState.Payable, HostStatementState.Paid), // nothing to send (net 0: the month's pay went to a clawback)
        (HostStatementState.Paying, HostStatementState.Paid),
        (HostStatementState.Paying, HostStatementState.Payable),
    ]);

    public static string ToWire(this HostStatementState s) => WireName<HostStatementState>.Of(s);

    public static HostStatementState FromWire(string s) => WireName<HostStatementState>.Parse(s, "host statement status");
}
