using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace Hutong.Server.Http;

/// <summary>
/// Query parameters (limit, starting_after, status…) bind by name into a handler's simple-typed parameters. A value that
/// does not parse (limit=abc, limit=1.5) fails binding, which minimal APIs answer with a bare 400 "Bad Request" that names
/// nothing; a repeated parameter is joined into one value ("5,6"), which either fails the same way or — for a text
/// parameter — is quietly taken as a value nobody sent. This filter, on the /v1 and /admin groups, answers both as the
/// validation problem the services answer a value out of range with (code validation_error, param naming the parameter),
/// for every endpoint at once. A route value is not its business (a malformed id is <see cref="RouteIds"/>'s 404).
/// </summary>
public static class QueryParameters
{
    public static TBuilder ProblemsForBadQueryParameters<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var parameters = factory.MethodInfo.GetParameters().Select(Of).OfType<QueryParameter>().ToArray();
            if (parameters.Length == 0)
            {
                return next;
            }

            return context =>
            {
                var http = context.HttpContext;
                var bindingFailed = http.Response.StatusCode == StatusCodes.Status400BadRequest; // set by the binder when a value did not bind
                foreach (var p in parameters)
                {
                    if (http.Request.RouteValues.ContainsKey(p.Name))
                    {
                        continue;
                    }

                    var values = http.Request.Query[p.Name];
                    if (values.Count > 1)
                    {
                        return ValueTask.FromResult<object?>(Problems.Invalid(p.Name, $"{p.Name} may be given once."));
                    }

                    if (bindingFailed && p.Refusal(values.ToString()) is { } message)
                    {
                        return ValueTask.FromResult<object?>(Problems.Invalid(p.Name, message));
                    }
                }

                return next(context);
            };
        });

    /// <summary>The handler parameter bound from the query string, or null (services, the context, route-only values, bodies).</summary>
    private static QueryParameter? Of(ParameterInfo p)
    {
        var attributes = p.GetCustomAttributes(true);
        if (attributes.Any(a => a is IFromServiceMetadata or IFromHeaderMetadata or IFromRouteMetadata or IFromBodyMetadata or IFromFormMetadata or AsParametersAttribute))
        {
            return null;
        }

        var name = attributes.OfType<IFromQueryMetadata>().FirstOrDefault()?.Name ?? p.Name;
        var type = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
        if (name is null || type.IsArray || !(type == typeof(string) || type.IsEnum || TryParseOf(type) is not null))
        {
            return null;
        }

        var optional = p.HasDefaultValue || Nullable.GetUnderlyingType(p.ParameterType) is not null
            || (type == typeof(string) && new NullabilityInfoContext().Create(p).WriteState != NullabilityState.NotNull);
        return new QueryParameter(name, type, optional);
    }

    /// <summary>The type's static TryParse(string, IFormatProvider, out T) or TryParse(string, out T), as the binder uses.</summary>
    private static MethodInfo? TryParseOf(Type type) =>
        type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(IFormatProvider), type.MakeByRefType()])
        ?? type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]);

    private sealed record QueryParameter(string Name, Type Type, bool Optional)
    {
        /// <summary>Why <paramref name="value"/> (the query's, empty when absent) does not bind, or null if it does.</summary>
        public string? Refusal(string value)
        {
            if (value.Length == 0)
            {
                return Optional ? null : $"{Name} is required.";
            }

            if (Type == typeof(string))
            {
                return null;
            }

            if (Type.IsEnum)
            {
                return Enum.TryParse(Type, value, ignoreCase: true, out _) ? null : $"{Name} is not one of its values.";
            }

            var tryParse = TryParseOf(Type)!;
            object?[] args = tryParse.GetParameters().Length == 3 ? [value, CultureInfo.InvariantCulture, null] : [value, null];
            if (tryParse.Invoke(null, args) is true)
            {
                return null;
            }

            return Type == typeof(int) || Type == typeof(long) || Type == typeof(short)
                ? $"{Name} must be a whole number."
                : Type == typeof(bool) ? $"{Name} must be true or false."
                : Type == typeof(DateTimeOffset) || Type == typeof(DateTime) ? $"{Name} must be a date and time (ISO 8601)."
                : $"{Name} is not a valid value.";
        }
    }
}
