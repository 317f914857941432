using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Subsidies;

/// <summary>/v1/subsidy_campaigns — the platform's own subsidies ("¥5 off with WeChat Pay").</summary>
public static class SubsidyEndpoints
{
    /// <summary>
    /// The platform pays a campaign's subsidies (its expense account credits the merchant the full order), so only the
    /// platform's operator may create or end one (/admin); a merchant reads its campaigns and their reports (/v1). A
    /// campaign a merchant could create itself would be money the merchant pays itself out of the platform's pocket.
    /// </summary>
    public static void Map(RouteGroupBuilder v1, RouteGroupBuilder admin)
    {
        var a = admin.MapGroup("/merchants/{id}/subsidy_campaigns");
        a.MapPost("/", async (HttpContext ctx, SubsidyService svc, MerchantId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateSubsidyCampaignRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateAsync(id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateSubsidyCampaignRequest>("application/json")
            .Produces<SubsidyCampaignDto>(201).ProducesProblem(400).ProducesProblem(404)
            .WithTags("Subsidy campaigns").WithSummary("Create a platform subsidy campaign for a merchant's checkout (operator; Idempotency-Key required): amount or percentage off with a cap, wallets, targeting, budget, per-buyer limit, window, holdout_percent (control group, 0-50).");
        a.MapPost("/{campaign}/end", (HttpContext ctx, SubsidyService svc, MerchantId id, SubsidyCampaignId campaign) =>
                svc.EndAsync(id.Value, campaign.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignDto>().ProducesProblem(404)
            .WithTags("Subsidy campaigns").WithSummary("End a campaign now (operator): no new offers; subsidies already reserved are consumed or released as their payments end.");

        var g = v1.MapGroup("/subsidy_campaigns");
        g.MapGet("/", (HttpContext ctx, SubsidyService svc, int? limit, string? starting_after) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignList>().WithTags("Subsidy campaigns").WithSummary("List the platform's subsidy campaigns on your checkout, newest first (starting_after, limit ≤ 100).");
        g.MapGet("/{id}", (HttpContext ctx, SubsidyService svc, SubsidyCampaignId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignDto>().ProducesProblem(404).WithTags("Subsidy campaigns").WithSummary("Retrieve a subsidy campaign with its committed budget.");
        g.MapGet("/{id}/report", (HttpContext ctx, SubsidyService svc, SubsidyCampaignId id) =>
                svc.ReportAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SubsidyCampaignReport>().ProducesProblem(404)
            .WithTags("Subsidy campaign report")
            .WithSummary("The campaign's cost, subsidised payments, distinct buyers and conversion by wallet (cashier views with the offer → paid); with a holdout, treatment against control: lift, its 95 % interval, incremental conversions and cost per incremental conversion.");
    }
}
