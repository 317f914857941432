namespace Hutong.Collab.Vfl;

/// <summary>A protocol step refused: a malformed or out-of-order message, a bad key or ciphertext. Code is stable, message is for people.</summary>
public sealed class VflProtocolException : Exception
{
    public VflProtocolException()
    {
        Code = "vfl_error";
    }

    public VflProtocolException(string message)
        : base(message)
    {
        Code = "vfl_error";
    }

    public VflProtocolException(string message, Exception inner)
        : base(message, inner)
    {
        Code = "vfl_error";
    }

    public VflProtocolException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}
