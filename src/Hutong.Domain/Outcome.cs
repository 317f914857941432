namespace Hutong.Domain;

/// <summary>Why a use case refused: the edge turns each kind into one HTTP status (see Http.OutcomeResults).</summary>
public enum FailureKind
{
    /// <summary>The input is malformed; <see cref="Failure.Errors"/> says which field and why.</summary>
    Validation,
    NotFound,
    /// <summary>Not allowed for this caller (a wallet not offered to this buyer).</summary>
    Forbidden,
    /// <summary>The input is fine but the state it meets refuses it (already paid, too early, taken).</summary>
    Conflict,
    /// <summary>It existed and no longer does (an expired share code).</summary>
    Gone,
    /// <summary>Well-formed, but a rule outside our state refuses it (the wallet would refuse this split).</summary>
    Unprocessable,
    /// <summary>Something we depend on did not answer (a wallet, a channel); nothing was changed.</summary>
    Unavailable,
}

/// <summary>
/// A refused use case, transport-free: its kind plus the stable words the API shows (code, title, detail, param),
/// so the wording stays where the decision is and the status stays at the edge.
/// </summary>
public sealed record Failure(FailureKind Kind, string Code, string Title, string? Detail = null, string? Param = null, IDictionary<string, string[]>? Errors = null)
{
    /// <summary>When the same request may succeed if sent again this much later (the answer's Retry-After), or null.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static Failure Validation(IDictionary<string, string[]> errors) =>
        new(FailureKind.Validation, "validation_error", "The request is not valid.", "See errors for each field.", errors.Keys.FirstOrDefault(), errors);

    public static Failure Invalid(string param, string message) => Validation(new Dictionary<string, string[]> { [param] = [message] });

    public static Failure NotFound(string what) => new(FailureKind.NotFound, "not_found", $"No such {what}.");

    public static Failure Conflict(string code, string title, string? detail = null, string? param = null) => new(FailureKind.Conflict, code, title, detail, param);
}

/// <summary>How a use case succeeded, for the edge to say so (200, 201, 204).</summary>
public enum SuccessKind
{
    Ok,
    Created,
    NoContent,
}

/// <summary>
/// What a use case answers: a value (read, changed or created) or a <see cref="Failure"/>. Services return this and the
/// endpoint maps it to HTTP; an idempotent write stores the mapped answer computed from the same outcome in its own
/// transaction, so a replay sends the same bytes.
/// </summary>
public readonly struct Outcome<T>
{
    private Outcome(SuccessKind kind, T? value, Failure? failure, T? stored)
    {
        Kind = kind;
        Value = value;
        Failure = failure;
        Stored = stored;
    }

    public SuccessKind Kind { get; }

    /// <summary>The answer's value; default when <see cref="Failure"/> is set or for <see cref="SuccessKind.NoContent"/>.</summary>
    public T? Value { get; }

    public Failure? Failure { get; }

    /// <summary>What the idempotency store keeps instead of <see cref="Value"/> when the value carries a secret shown once.</summary>
    public T? Stored { get; }

    public bool Succeeded => Failure is null;

    public static Outcome<T> Ok(T value) => new(SuccessKind.Ok, value, null, default);

    public static Outcome<T> Created(T value) => new(SuccessKind.Created, value, null, default);

    public static Outcome<T> NoContent() => new(SuccessKind.NoContent, default, null, default);

    /// <summary>The same answer, stored for replays as <paramref name="redacted"/> (the secret is not repeated).</summary>
    public Outcome<T> WithoutSecretsWhenStored(T redacted) => new(Kind, Value, Failure, redacted);

    public static implicit operator Outcome<T>(Failure failure) => new(SuccessKind.Ok, default, failure, default);
}

/// <summary>Shorthands that infer <c>T</c>.</summary>
public static class Outcome
{
    public static Outcome<T> Ok<T>(T value) => Outcome<T>.Ok(value);

    public static Outcome<T> Created<T>(T value) => Outcome<T>.Created(value);
}
