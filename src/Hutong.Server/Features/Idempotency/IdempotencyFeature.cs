namespace Hutong.Server.Features.Idempotency;

/// <summary>Idempotency-Key on every POST: the in-memory claims and the filter that replays stored answers. HubApp composes the hub from these calls.</summary>
public static class IdempotencyFeature
{
    public static IServiceCollection AddIdempotency(this IServiceCollection s)
    {
        s.AddSingleton<IdempotencyClaims>();
        s.AddSingleton<IdempotencyFilter>();
        return s;
    }
}
