using Grpc.Core;
using Hutong.Collab.Node.Wire;
using Microsoft.AspNetCore.Http;

namespace Hutong.Collab.Node;

/// <summary>The gRPC endpoint: takes the caller's identity from its TLS client certificate, then hands over to the responder.</summary>
public sealed class CollabNodeService(CollabResponder responder) : CollabNode.CollabNodeBase
{
    public override Task<Ack> Propose(JobProposal request, ServerCallContext context) =>
        responder.ProposeAsync(Caller(context), request, context.CancellationToken);

    public override Task<Ack> Decide(JobDecision request, ServerCallContext context) =>
        responder.DecideAsync(Caller(context), request, context.CancellationToken);

    public override Task<Envelope> Exchange(Envelope request, ServerCallContext context) =>
        responder.ExchangeAsync(Caller(context), request, context.CancellationToken);

    private static string Caller(ServerCallContext context) =>
        context.GetHttpContext().Connection.ClientCertificate is { } c
            ? NodeIdentity.Fingerprint(c)
            : throw CollabWireErrors.Refuse("unknown_peer", "no client certificate", StatusCode.Unauthenticated);
}
