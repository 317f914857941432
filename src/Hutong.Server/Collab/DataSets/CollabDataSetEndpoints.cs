using Hutong.Collab.Data;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Collab.DataSets;

/// <summary>The body of POST /admin/collab/datasets/from-payments.</summary>
public sealed record FromPaymentsBody(string? Name, string? Merchant, DateTimeOffset? From, DateTimeOffset? To, string? Category, string? IdRule, string? Currency);

/// <summary>/admin/collab/datasets: a party's data sets for cooperation jobs (admin token; Idempotency-Key on POST).</summary>
public static class CollabDataSetEndpoints
{
    private static readonly HashSet<string> UploadParameters =
        ["name", "kind", "format", "id_column", "id_rule", "value_column", "value_format", "time_column", "campaign_column", "group_column", "currency", "duplicates"];

    public static void Map(RouteGroupBuilder admin, long maxBytes)
    {
        admin.MapPost("/collab/datasets", UploadAsync)
            .WithMetadata(new RequestSizeLimitAttribute(maxBytes))
            .Accepts<Stream>("text/csv", "application/vnd.apache.parquet", "application/octet-stream")
            .Produces<CollabDataSetDto>(201).ProducesProblem(400).ProducesProblem(413).ProducesProblem(422)
            .WithSummary("Upload a data set (the file is the body, CSV or Parquet; options in the query: name, kind=conversions|exposures, id_column, "
                + "id_rule=phone|device|opaque, value_column, value_format=minor|amount, time_column, campaign_column, group_column, currency, duplicates=refuse|sum). "
                + "Streamed; either the whole data set is stored or nothing.")
            .WithTags("Collab datasets");
        admin.MapPost("/collab/datasets/from-payments", FromPaymentsAsync)
            .Accepts<FromPaymentsBody>("application/json")
            .Produces<CollabDataSetDto>(201).ProducesProblem(400)
            .WithSummary("Build a conversions data set from a merchant's succeeded payments (buyer_id, amount − refunded per buyer, first paid time).")
            .WithTags("Collab datasets");
        admin.MapGet("/collab/datasets", (HttpContext ctx, CollabDataSetService svc) => svc.ListAsync(ctx.RequestAborted).ToApiResult())
            .Produces<CollabDataSetList>().WithSummary("List the data sets (newest first; never any id).").WithTags("Collab datasets");
        admin.MapGet("/collab/datasets/{id}", (HttpContext ctx, CollabDataSetId id, CollabDataSetService svc) => svc.GetAsync(id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<CollabDataSetDto>().ProducesProblem(404).WithSummary("A data set: counts, totals, id rule and options.").WithTags("Collab datasets");
        admin.MapDelete("/collab/datasets/{id}", (HttpContext ctx, CollabDataSetId id, CollabDataSetService svc) => svc.DeleteAsync(id.Value, ctx.RequestAborted).ToApiResult())
            .Produces(204).ProducesProblem(404).ProducesProblem(409).WithSummary("Delete a data set and all its rows.").WithTags("Collab datasets");
    }

    private static async Task<ApiResult> UploadAsync(HttpContext ctx, CollabDataSetService svc, IOptions<CollabDataSetLimits> limits)
    {
        var q = ctx.Request.Query;
        if (q.Keys.FirstOrDefault(k => !UploadParameters.Contains(k)) is { } unknown)
        {
            return Problems.Invalid(unknown, $"'{unknown}' is not an option of this upload; the options are: {string.Join(", ", UploadParameters)}.");
        }

        if (ctx.Request.ContentLength is { } length && length > limits.Value.MaxBytes)
        {
            return ApiResult.Problem(413, "dataset_too_large", $"The file must be at most {limits.Value.MaxBytes} bytes (Hutong:Collab:DataSets:MaxBytes).");
        }

        var (options, format, failure) = Options(q, ctx.Request.ContentType);
        if (failure is not null)
        {
            return failure.ToApiResult();
        }

        try
        {
            return (await svc.UploadAsync(ctx.Request.Body, format, options!, IdempotencyContext.Of(ctx), ctx.RequestAborted)).ToApiResult();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ApiResult.Problem(413, "dataset_too_large", $"The file must be at most {limits.Value.MaxBytes} bytes (Hutong:Collab:DataSets:MaxBytes).");
        }
    }

    /// <summary>The upload's options from the query; the format from format= or else the Content-Type.</summary>
    internal static (DataSetUploadOptions? Options, DataSetSource Format, Failure? Failure) Options(IQueryCollection q, string? contentType)
    {
        var errors = new Dictionary<string, string[]>();
        string? One(string key) => q.TryGetValue(key, out var v) && v.Count > 0 && !string.IsNullOrWhiteSpace(v[0]) ? v[0]!.Trim() : null;

        var kind = DataSetWire.Kind(One("kind"));
        if (kind is null)
        {
            errors["kind"] = ["kind must be conversions or exposures."];
        }

        var rule = DataSetWire.Rule(One("id_rule"));
        if (rule is null)
        {
            errors["id_rule"] = ["id_rule must be phone, device or opaque (how ids are normalised; both parties of a job use the same)."];
        }

        var valueFormat = DataSetWire.Format(One("value_format"));
        if (valueFormat is null)
        {
            errors["value_format"] = ["value_format must be minor (whole fen) or amount (a decimal in yuan)."];
        }

        var duplicates = DataSetWire.Duplicates(One("duplicates"));
        if (duplicates is null)
        {
            errors["duplicates"] = ["duplicates must be refuse or sum."];
        }

        var format = One("format") switch
        {
            "csv" => DataSetSource.Csv,
            "parquet" => DataSetSource.Parquet,
            null when contentType?.Contains("parquet", StringComparison.OrdinalIgnoreCase) == true => DataSetSource.Parquet,
            null when contentType is null || contentType.StartsWith("text/csv", StringComparison.OrdinalIgnoreCase) || contentType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase) => DataSetSource.Csv,
            _ => (DataSetSource?)null,
        };
        if (format is null)
        {
            errors["format"] = ["format must be csv or parquet (or send Content-Type text/csv or application/vnd.apache.parquet)."];
        }

        if (errors.Count > 0)
        {
            return (null, default, Failure.Validation(errors));
        }

        return (new DataSetUploadOptions
        {
            Name = One("name") ?? "",
            Kind = kind!.Value,
            Rule = rule!.Value,
            IdColumn = One("id_column") ?? "id",
            ValueColumn = One("value_column"),
            ValueFormat = valueFormat!.Value,
            TimeColumn = One("time_column"),
            CampaignColumn = One("campaign_column"),
            GroupColumn = One("group_column"),
            Currency = One("currency") ?? "CNY",
            Duplicates = duplicates!.Value,
        }, format!.Value, null);
    }

    private static async Task<ApiResult> FromPaymentsAsync(HttpContext ctx, CollabDataSetService svc)
    {
        var (body, problem) = await RequestBody.ReadAsync<FromPaymentsBody>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        var rule = DataSetWire.Rule(body!.IdRule ?? "opaque");
        if (rule is null)
        {
            errors["id_rule"] = ["id_rule must be phone, device or opaque."];
        }

        if (body.From is null)
        {
            errors["from"] = ["from is required (ISO 8601 with an offset)."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors).ToApiResult();
        }

        var request = new FromPaymentsRequest(body.Name ?? $"payments of {body.Merchant}", body.Merchant ?? "", body.From!.Value, body.To, body.Category, rule!.Value, body.Currency ?? "CNY");
        return (await svc.FromPaymentsAsync(request, IdempotencyContext.Of(ctx), ctx.RequestAborted)).ToApiResult();
    }
}
