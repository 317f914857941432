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
                        return ValueTask.FromResult<object?>(Problems.NotFound(id.What));
                    }
                }

                return next(context);
            };
        });
}
