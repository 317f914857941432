using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Subsidies;

/// <summary>/v1/subsidy_campaigns — the platform's own subsidies ("¥5 off with WeChat Pay").</summary>
public static class SubsidyEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/subsidy_campaigns");
        g.MapPost("/", async (HttpContext ctx, SubsidyService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateSubsidyCampaignRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateSubsidyCampaignRequest>("application/json")
            .Produces<SubsidyCampaignDto>(201).ProducesProblem(400)
            .WithTags("Subsidy campaigns").WithSummary("Create a platform subsidy campaign (Idempotency-Key required): amount or percentage off with a cap, wallets, targeting, budget, per-buyer limit, window.");
        g.MapGet("/", (HttpContext ctx, SubsidyService svc, int? limit, string? starting_after) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignList>().WithTags("Subsidy campaigns").WithSummary("List subsidy campaigns, newest first (starting_after, limit ≤ 100).");
        g.MapGet("/{id}", (HttpContext ctx, SubsidyService svc, SubsidyCampaignId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignDto>().ProducesProblem(404).WithTags("Subsidy campaigns").WithSummary("Retrieve a subsidy campaign with its committed budget.");
        g.MapPost("/{id}/end", (HttpContext ctx, SubsidyService svc, SubsidyCampaignId id) =>
                svc.EndAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignDto>().ProducesProblem(404)
            .WithTags("Subsidy campaigns").WithSummary("End a campaign now: no new offers; subsidies already reserved are consumed or released as their payments end.");
        g.MapGet("/{id}/report", (HttpContext ctx, SubsidyService svc, SubsidyCampaignId id) =>
                svc.ReportAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignReport>().ProducesProblem(404)
            .WithTags("Subsidy campaign report")
            .WithSummary("The campaign's cost, subsidised payments, distinct buyers and conversion by wallet (cashier views with the offer → paid).");
    }
}
