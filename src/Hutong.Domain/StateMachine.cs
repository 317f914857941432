using System.Collections.Frozen;

namespace Hutong.Domain;

/// <summary>
/// A state machine as one table, (from, event) → to. Anything not in the table is illegal: <see cref="Apply"/> says why
/// (or <see cref="TransitionResult{TState}.ToOrThrow"/> throws) — never a silent no-op. Staying in a state is a move like
/// any other and is listed where allowed.
/// </summary>
/// <remarks>
/// Payments and attempts are moved by named events. Refunds, splits and returns are moved by a wallet answer the
/// decision has already turned into the state it names, so their event is the target state (<see cref="StateMachine.OfMoves"/>).
/// </remarks>
public sealed class StateMachine<TState, TEvent>
    where TState : struct, Enum
    where TEvent : struct, Enum
{
    private readonly string _what;
    private readonly Func<TEvent, string> _describe;
    private readonly FrozenSet<TState> _final;

    /// <param name="what">What moves ("payment"), for the reason an illegal move gives.</param>
    /// <param name="describe">The event as the tail of "A pending payment cannot …".</param>
    /// <param name="table">(from, event) → to: every legal transition.</param>
    public StateMachine(string what, Func<TEvent, string> describe, IEnumerable<KeyValuePair<(TState From, TEvent Event), TState>> table)
    {
        _what = what;
        _describe = describe;
        Table = table.ToFrozenDictionary();
        Moves = Table.Select(t => (t.Key.From, t.Value)).ToFrozenSet();
        _final = Enum.GetValues<TState>().Where(s => !Moves.Any(m => EqualityComparer<TState>.Default.Equals(m.From, s))).ToFrozenSet();
    }

    /// <summary>(from, event) → to.</summary>
    public FrozenDictionary<(TState From, TEvent Event), TState> Table { get; }

    /// <summary>Every (from, to) the table allows, whatever the event.</summary>
    public FrozenSet<(TState From, TState To)> Moves { get; }

    public bool CanApply(TState from, TEvent e) => Table.ContainsKey((from, e));

    public TransitionResult<TState> Apply(TState from, TEvent e) =>
        Table.TryGetValue((from, e), out var to)
            ? TransitionResult<TState>.Ok(from, to)
            : TransitionResult<TState>.Illegal(from, $"A {WireName<TState>.Of(from)} {_what} cannot {_describe(e)}.");

    /// <summary>Whether some event moves <paramref name="from"/> to <paramref name="to"/>.</summary>
    public bool Allows(TState from, TState to) => Moves.Contains((from, to));

    /// <summary>A state no event leaves.</summary>
    public bool IsFinal(TState s) => _final.Contains(s);
}

public static class StateMachine
{
    /// <summary>A machine moved by named events.</summary>
    public static StateMachine<TState, TEvent> OfEvents<TState, TEvent>(string what, Dictionary<(TState, TEvent), TState> table)
        where TState : struct, Enum
        where TEvent : struct, Enum =>
        new(what, e => $"take the event {e}", table);

    /// <summary>A machine whose event is the state asked for: its table is the set of (from, to) moves it allows.</summary>
    public static StateMachine<TState, TState> OfMoves<TState>(string what, IEnumerable<(TState From, TState To)> moves)
        where TState : struct, Enum =>
        new(what, to => $"become {WireName<TState>.Of(to)}", moves.Select(m => KeyValuePair.Create((m.From, m.To), m.To)));
}

/// <summary>The outcome of applying an event: the new state, or why the move is illegal (the state is then unchanged).</summary>
public readonly record struct TransitionResult<TState>(bool IsLegal, TState From, TState To, string? Error)
    where TState : struct, Enum
{
    public static TransitionResult<TState> Ok(TState from, TState to) => new(true, from, to, null);

    public static TransitionResult<TState> Illegal(TState from, string why) => new(false, from, from, why);

    public TState ToOrThrow() => IsLegal ? To : throw new IllegalTransitionException(Error!);
}

public sealed class IllegalTransitionException(string message) : InvalidOperationException(message);
