namespace Hutong.Collab;

/// <summary>
/// A message or input the protocol refuses: a malformed batch, a non-canonical point, a duplicate, a batch out of order.
/// <see cref="Code"/> is stable (snake_case) so the later API can map it to an RFC 9457 problem type.
/// </summary>
public sealed class CollabProtocolException : Exception
{
    public CollabProtocolException(string code, string message)
        : base(message) => Code = code;

    public CollabProtocolException()
        : this("protocol_error", "The cooperation protocol refused a message.")
    {
    }

    public CollabProtocolException(string message)
        : this("protocol_error", message)
    {
    }

    public CollabProtocolException(string message, Exception innerException)
        : base(message, innerException) => Code = "protocol_error";

    public string Code { get; }
}
