namespace Hutong.Collab.Node;

/// <summary>
/// A cooperation job's life on one node. Both nodes keep their own copy; the transition table is the same on both.
/// <list type="bullet">
/// <item>proposed: the terms exist (sent by, or received from, the proposer); each party approves on its own node;</item>
/// <item>approved: both parties approved the same terms (their SHA-256); nothing was computed yet;</item>
/// <item>running: the computing party (the driver) runs the protocol bucket by bucket; the other answers;</item>
/// <item>finished: the answer is stored with the entitled party (released, or refused by the threshold);</item>
/// <item>failed: a protocol error that retrying cannot mend (a refused message, mismatched data sets);</item>
/// <item>cancelled: either party withdrew before the job finished.</item>
/// </list>
/// </summary>
public enum CollabJobState
{
    Proposed,
    Approved,
    Running,
    Finished,
    Failed,
    Cancelled,
}

public static class CollabJobStates
{
    private static readonly Dictionary<CollabJobState, CollabJobState[]> Transitions = new()
    {
        [CollabJobState.Proposed] = [CollabJobState.Approved, CollabJobState.Cancelled],
        [CollabJobState.Approved] = [CollabJobState.Running, CollabJobState.Cancelled, CollabJobState.Failed],
        [CollabJobState.Running] = [CollabJobState.Finished, CollabJobState.Failed, CollabJobState.Cancelled],
        [CollabJobState.Finished] = [],
        [CollabJobState.Failed] = [],
        [CollabJobState.Cancelled] = [],
    };

    public static bool CanMove(CollabJobState from, CollabJobState to) => Transitions[from].Contains(to);

    public static bool IsFinal(CollabJobState state) => Transitions[state].Length == 0;

    /// <summary>The stored and wire spelling (snake_case).</summary>
    public static string Wire(this CollabJobState state) => state switch
    {
        CollabJobState.Proposed => "proposed",
        CollabJobState.Approved => "approved",
        CollabJobState.Running => "running",
        CollabJobState.Finished => "finished",
        CollabJobState.Failed => "failed",
        CollabJobState.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static CollabJobState Parse(string wire)
    {
        foreach (var s in Enum.GetValues<CollabJobState>())
        {
            if (s.Wire() == wire)
            {
                return s;
            }
        }

        throw new ArgumentException($"unknown job state '{wire}'", nameof(wire));
    }
}

/// <summary>A hash bucket of a running job, on the driver's node.</summary>
public enum CollabBucketState
{
    Pending,
    Done,
}
