using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Hutong.Server.Http;

/// <summary>
/// What the OpenAPI document says beyond the endpoints themselves: how to authenticate (bearer API keys on /v1, the
/// admin token on /admin) and that every POST takes an Idempotency-Key, so generated clients and the reference page
/// send both.
/// </summary>
public static class OpenApiConventions
{
    public const string MerchantKey = "merchant_api_key";
    public const string AdminToken = "admin_token";

    public static void Configure(OpenApiOptions o)
    {
        o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Hutong merchant API";
            doc.Info.Description = "One API over WeChat Pay, Alipay and UnionPay. Amounts are integers in minor units. Every POST takes an Idempotency-Key.";
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes[MerchantKey] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "sk_…",
                Description = "A merchant's API key: `Authorization: Bearer sk_…`.",
            };
            doc.Components.SecuritySchemes[AdminToken] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The operator's token (Hutong:AdminToken): `Authorization: Bearer …`.",
            };

            foreach (var (path, item) in doc.Paths)
            {
                var scheme = path.StartsWith("/v1/", StringComparison.Ordinal) ? MerchantKey : path.StartsWith("/admin/", StringComparison.Ordinal) ? AdminToken : null;
                if (scheme is null || item.Operations is null)
                {
                    continue;
                }

                foreach (var operation in item.Operations.Values)
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, doc)] = [] });
                }
            }

            return Task.CompletedTask;
        });

        o.AddOperationTransformer((operation, context, _) =>
        {
            var path = "/" + (context.Description.RelativePath ?? string.Empty);
            if (string.Equals(context.Description.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase)
                && (path.StartsWith("/v1/", StringComparison.Ordinal) || path.StartsWith("/admin/", StringComparison.Ordinal)))
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "Idempotency-Key",
                    In = ParameterLocation.Header,
                    Required = true,
                    Description = "Unique per intended operation (≤ 255 characters, kept 24 h): a retry with the same key and body replays the stored answer.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
            }

            return Task.CompletedTask;
        });
    }
}
