using System.Security.Cryptography;
using System.Text;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;

namespace Hutong.Server.Features.Console;

/// <summary>A console action's outcome; <see cref="Repeated"/> when its key was already answered (the form was sent twice).</summary>
public sealed record ConsoleActionResult<T>(Outcome<T> Outcome, bool Repeated);

/// <summary>
/// Runs a console action through the same service call as the REST API, under an Idempotency-Key in the merchant's
/// scope (the form's hidden key): the service stores its answer in its own transaction, so a second submission of the
/// same form finds the key answered and changes nothing. A second submission is told as one (<see cref="ConsoleActionResult{T}.Repeated"/>),
/// never as the refusal the action would give it now: the key's stored answer is looked up before the action (the form
/// sent again later — a full refund's second try would be "more than what is left to refund") and after a refusal (the
/// same form sent twice at once: the other submission committed first, and this one, run after it, was refused).
/// A first submission that is refused gets its real refusal.
/// </summary>
public static class ConsoleActions
{
    public static async Task<ConsoleActionResult<T>> RunAsync<T>(ConsoleStore store, string merchantId, string? key, string request, TimeProvider time,
        Func<IdempotencyContext, Task<Outcome<T>>> action, CancellationToken ct)
    {
        if (key is not { Length: > 8 and <= 100 } || !key.StartsWith("console-", StringComparison.Ordinal))
        {
            return new(Failure.Invalid("key", "The form is missing its key; open the page again."), false);
        }

        if (await store.FormAnsweredAsync(merchantId, key, ct))
        {
            return Repeat<T>();
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request)));
        var idem = new IdempotencyContext(merchantId, key, hash, time.GetUtcNow().ToUnixTimeMilliseconds());
        Outcome<T> outcome;
        try
        {
            outcome = await action(idem);
        }
        catch (IdempotencyConflictException)
        {
            return Repeat<T>();
        }

        // Read whatever the request's state (as the REST filter reads the winner's answer): the refusal must not be shown
        // for a form that was done. A refusal this attempt stored as the key's answer (idem.Completed: some services store
        // a 409 so the REST API replays it) is this first submission's own, and is shown.
        return outcome.Failure is not null && !idem.Completed && await store.FormAnsweredAsync(merchantId, key, CancellationToken.None)
            ? Repeat<T>()
            : new(outcome, false);
    }

    private static ConsoleActionResult<T> Repeat<T>() => new(Failure.Conflict("already_submitted", "This form was already submitted."), true);
}
