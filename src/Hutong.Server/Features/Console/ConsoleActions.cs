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
/// same form finds the key answered and changes nothing.
/// </summary>
public static class ConsoleActions
{
    public static async Task<ConsoleActionResult<T>> RunAsync<T>(string merchantId, string? key, string request, TimeProvider time,
        Func<IdempotencyContext, Task<Outcome<T>>> action)
    {
        if (key is not { Length: > 8 and <= 100 } || !key.StartsWith("console-", StringComparison.Ordinal))
        {
            return new(Failure.Invalid("key", "The form is missing its key; open the page again."), false);
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request)));
        var idem = new IdempotencyContext(merchantId, key, hash, time.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            return new(await action(idem), false);
        }
        catch (IdempotencyConflictException)
        {
            return new(Failure.Conflict("already_submitted", "This form was already submitted."), true);
        }
    }
}
