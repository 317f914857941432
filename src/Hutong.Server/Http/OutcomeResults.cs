using Hutong.Domain;

namespace Hutong.Server.Http;

/// <summary>
/// The one place a use case's <see cref="Outcome{T}"/> becomes HTTP: the status for its kind and the RFC 9457 problem
/// for a <see cref="Failure"/>. Deterministic, so the answer an idempotent write stores is the one the endpoint sends.
/// </summary>
public static class OutcomeResults
{
    public static ApiResult ToApiResult<T>(this Outcome<T> outcome)
    {
        if (outcome.Failure is { } failure)
        {
            return failure.ToApiResult();
        }

        var result = outcome.Kind switch
        {
            SuccessKind.Created => ApiResult.Created(outcome.Value),
            SuccessKind.NoContent => ApiResult.NoContent(),
            _ => ApiResult.Ok(outcome.Value),
        };
        return outcome.Stored is { } stored ? result.WithoutSecretsWhenStored(stored) : result;
    }

    public static ApiResult ToApiResult(this Failure failure)
    {
        var problem = ApiResult.Problem(Status(failure.Kind), failure.Code, failure.Title, failure.Detail, failure.Errors, failure.Param);
        return failure.RetryAfter is { } after ? problem.RetryingAfter(after) : problem;
    }

    public static async Task<ApiResult> ToApiResult<T>(this Task<Outcome<T>> outcome) => (await outcome).ToApiResult();

    public static int Status(FailureKind kind) => kind switch
    {
        FailureKind.Validation => 400,
        FailureKind.NotFound => 404,
        FailureKind.Forbidden => 403,
        FailureKind.Conflict => 409,
        FailureKind.Gone => 410,
        FailureKind.Unprocessable => 422,
        FailureKind.Unavailable => 503,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
