using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Hosts;

/// <summary>/v1/hosts and /v1/host_contracts: the hosting service's livestream hosts, contracts and monthly settlement.</summary>
public static class HostEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1; // tagged per endpoint: tags on the shared /v1 group would apply to every endpoint
        g.MapPost("/hosts", async (HttpContext ctx, HostService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateHostRequest>(ctx.Request);
                return problem ?? await svc.CreateHostAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateHostRequest>("application/json").Produces<HostDto>(201).ProducesProblem(400).ProducesProblem(409)
            .WithSummary("Register a livestream host and the live room whose sales are theirs (payments' metadata.live_room).").WithTags("Hosts");
        g.MapPost("/hosts/{id}/payout_account", async (HttpContext ctx, HostService svc, HostId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<HostPayoutAccountRequest>(ctx.Request);
                return problem ?? await svc.SetPayoutAccountAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<HostPayoutAccountRequest>("application/json").Produces<HostDto>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("Set where the host's statements are paid: wallet (alipay), type (ALIPAY_USER_ID or ALIPAY_LOGON_ID), identity and real name.").WithTags("Host payout account");
        g.MapPost("/host_contracts", async (HttpContext ctx, HostService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateHostContractRequest>(ctx.Request);
                return problem ?? await svc.CreateContractAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateHostContractRequest>("application/json").Produces<HostContractDto>(201).ProducesProblem(400).ProducesProblem(404)
            .WithSummary("A six-month contract: guaranteed_minimum, revenue_share, or greater_of with a monthly true-up.").WithTags("Host contracts");
        g.MapPost("/host_contracts/{id}/exit", async (HttpContext ctx, HostService svc, HostContractId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<ExitHostContractRequest>(ctx.Request);
                return problem ?? await svc.ExitAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Produces<HostContractDto>().ProducesProblem(404).ProducesProblem(409).WithSummary("The host leaves; the contract covers no day from `date` on.").WithTags("Host contracts");
        g.MapPost("/host_contracts/{id}/statements", async (HttpContext ctx, HostService svc, HostContractId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateStatementRequest>(ctx.Request);
                return problem ?? await svc.CreateStatementAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Produces<HostStatementDto>(201).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Settle a finished month: pay, true-up and income tax withheld, posted to the ledger.").WithTags("Host statements");
        g.MapGet("/host_contracts/{id}/statements", (HttpContext ctx, HostService svc, HostContractId id) =>
                svc.ListStatementsAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .WithSummary("A contract's monthly statements.").WithTags("Host statements");
        g.MapPost("/host_contracts/{id}/statements/{month}/pay", (HttpContext ctx, HostService svc, HostContractId id, string month) =>
                svc.PayStatementAsync(MerchantContext.Of(ctx).MerchantId, id.Value, month, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .MalformedIdsAnswerAs("host_statement") // the statement (contract and month) is what is unknown
            .Produces<HostStatementDto>().ProducesProblem(404).ProducesProblem(409).WithSummary("Pay the statement's net pay to the host's payout account through a payout; the statement is paying until the payout settles (paid, or payable again if it failed).").WithTags("Host statements");
    }
}
