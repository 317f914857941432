using Hutong.Domain;

namespace Hutong.Server.Http;

/// <summary>
/// Typed ids (<see cref="IRouteId"/>) bind from the route through their TryParse. A malformed one fails binding, which
/// minimal APIs answer with a bare 400; the API has always answered a malformed id like an unknown one — the RFC 9457
/// "No such payment." 404 — so this filter, which runs although binding failed (the handler does not), says that instead.
/// </summary>
public static class RouteIds
{
    public static TBuilder NotFoundForMalformedIds<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var positions = factory.MethodInfo.GetParameters()
                .Where(p => typeof(IRouteId).IsAssignableFrom(p.ParameterType))
                .Select(p => p.Position)
                .ToArray();
            if (positions.Length == 0)
            {
                return next;
            }

            return context =>
            {
                foreach (var i in positions)
                {
                    if (context.Arguments[i] is IRouteId { IsBound: false } id)
                    {
                        var what = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<UnknownIdAnswer>()?.What ?? id.What;
                        return ValueTask.FromResult<object?>(Problems.NotFound(what));
                    }
                }

                return next(context);
            };
        });

    /// <summary>
    /// For a route whose unknown id has always been answered with another noun's "No such …" (a statement addressed by
    /// its contract's id and month says "No such host_statement."): a malformed id gets that same answer.
    /// </summary>
    public static TBuilder MalformedIdsAnswerAs<TBuilder>(this TBuilder builder, string what) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new UnknownIdAnswer(what));

    private sealed record UnknownIdAnswer(string What);
}
