using System.Collections.Frozen;
using Hutong.Domain.Payments;

namespace Hutong.Domain.FollowUps;

/// <summary>
/// A state machine written as the set of (from, to) moves it allows; anything else is illegal and reported with a
/// reason, or thrown — never a silent no-op. Staying in a state is a move like any other and is listed where allowed.
/// </summary>
public sealed class Transitions<TState>
    where TState : struct, Enum
{
    private readonly FrozenSet<(TState From, TState To)> _allowed;
    private readonly Func<TState, string> _wire;
    private readonly string _what;

    public Transitions(string what, Func<TState, string> wire, IEnumerable<(TState From, TState To)> allowed)
    {
        _what = what;
        _wire = wire;
        _allowed = allowed.ToFrozenSet();
    }

    public IReadOnlySet<(TState From, TState To)> Allowed => _allowed;

    public bool Allows(TState from, TState to) => _allowed.Contains((from, to));

    /// <summary>A state no move leaves.</summary>
    public bool IsFinal(TState s) => !_allowed.Any(m => m.From.Equals(s));

    /// <summary>Why a move is illegal, or null when it is allowed.</summary>
    public string? Refusal(TState from, TState to) =>
        Allows(from, to) ? null : $"A {_wire(from)} {_what} cannot become {_wire(to)}.";

    /// <summary>The new state, or <see cref="IllegalTransitionException"/> with the reason.</summary>
    public TState Move(TState from, TState to) =>
        Refusal(from, to) is { } why ? throw new IllegalTransitionException(why) : to;
}
