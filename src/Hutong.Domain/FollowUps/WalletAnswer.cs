namespace Hutong.Domain.FollowUps;

/// <summary>What a wallet said about a followed call (a refund, a split, a return), in the domain's words.</summary>
public enum WalletAnswer
{
    /// <summary>Done: the money moved.</summary>
    Succeeded,

    /// <summary>A definite no: refused, or the wallet gave up.</summary>
    Failed,

    /// <summary>Accepted, still on its way.</summary>
    Processing,

    /// <summary>No trustworthy answer (timeout, 5xx, unverifiable response): ask again later.</summary>
    NoAnswer,
}
