namespace Hutong.Domain.FollowUps;

/// <summary>What a query of a followed call (a refund, a split, a return) found at the wallet.</summary>
public enum WalletLookup
{
    /// <summary>Not queried.</summary>
    NotQueried,

    /// <summary>The wallet knows the call: its answer (processing, done, refused) is what is recorded.</summary>
    Found,

    /// <summary>The wallet says it never got the call: it may be sent (again, under the same out_…_no).</summary>
    NotFound,

    /// <summary>No trustworthy answer (timeout, 5xx): recorded as such and queried again later — the first send may yet be there.</summary>
    NoAnswer,
}

/// <summary>The next thing a hub does with an open followed call it holds the claim on.</summary>
public enum NextCall
{
    /// <summary>Send it to the wallet.</summary>
    Send,

    /// <summary>Ask the wallet whether it has it before anything else.</summary>
    Query,

    /// <summary>Record the answer in hand (and follow it on the schedule while it is open).</summary>
    Record,
}

/// <summary>
/// Each wallet call reaches the wallet once: a hub sends only a call no hub ever claimed to send. One some hub may have
/// sent — its claim lapsed mid-call because it died, or was slow on a busy machine — is queried first, and sent again only
/// when the wallet says it never got it; never on a query left unanswered.
/// </summary>
public static class SendOnce
{
    /// <param name="sendStarted">A hub claimed it to make its wallet call before (the row's sent_at), or its state says the wallet had it.</param>
    /// <param name="lookup">What this hub's query found, if it queried.</param>
    public static NextCall Next(bool sendStarted, WalletLookup lookup) => lookup switch
    {
        WalletLookup.NotQueried => sendStarted ? NextCall.Query : NextCall.Send,
        WalletLookup.NotFound => NextCall.Send,
        WalletLookup.Found or WalletLookup.NoAnswer => NextCall.Record,
        _ => throw new ArgumentOutOfRangeException(nameof(lookup), lookup, null),
    };
}
