using Grpc.Core;

namespace Hutong.Collab.Node;

/// <summary>
/// How a node refuses a message: a gRPC status whose trailer "collab-code" carries the stable code (replayed,
/// bad_point, bad_message, unknown_job, bad_step, not_approved, not_running, no_session, …) and whose detail says why.
/// </summary>
public static class CollabWireErrors
{
    public const string CodeTrailer = "collab-code";

    public static RpcException Refuse(string code, string message, StatusCode status = StatusCode.InvalidArgument) =>
        new(new Status(status, $"{code}: {message}"), new Metadata { { CodeTrailer, code } });

    public static string? CodeOf(RpcException e) => e.Trailers.GetValue(CodeTrailer);

    /// <summary>Worth retrying later: the peer (or the network to it) is down, or the peer is not ready yet.</summary>
    public static bool IsTransient(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted or StatusCode.ResourceExhausted
        || (e.StatusCode == StatusCode.Internal && CodeOf(e) is null)
        || (e.StatusCode == StatusCode.Unknown && CodeOf(e) is null)
        || CodeOf(e) is "not_approved" or "no_session";
}
