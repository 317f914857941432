namespace Hutong.Collab.Psi;

/// <summary>
/// Bounds one stream of batches from the peer (its "enc" items, our items masked back, its conversions): at most
/// <see cref="MaxItems"/> items — what the peer's hello announced, capped by this node's configured maximum, or exactly
/// our own count for what comes back to us — and no empty batch before the last, so a peer cannot keep a fetch loop going
/// (at most MaxItems + 1 batches). The first batch that exceeds the bound is refused before anything of it is taken.
/// </summary>
public sealed class PeerStreamLimit
{
    private readonly string what;
    private readonly bool exact;

    public PeerStreamLimit(string what, long maxItems, bool exact = false)
    {
        ArgumentNullException.ThrowIfNull(what);
        ArgumentOutOfRangeException.ThrowIfNegative(maxItems);
        this.what = what;
        this.exact = exact;
        MaxItems = maxItems;
    }

    public long MaxItems { get; }

    public long Items { get; private set; }

    /// <summary>Batches taken so far (the index of the next one).</summary>
    public int Batches { get; private set; }

    public bool Ended { get; private set; }

    /// <summary>Takes the next batch's item count; refuses one past the bound, an empty one before the last, or one after the last.</summary>
    public void Take(int count, bool isLast)
    {
        if (Ended)
        {
            throw new CollabProtocolException("bad_message", $"{what}: a batch after the last one.");
        }

        if (count < 0 || (count == 0 && !isLast))
        {
            throw new CollabProtocolException("bad_message", $"{what}: batch {Batches} is empty (or negative) and not the last.");
        }

        if (Items + count > MaxItems)
        {
            throw new CollabProtocolException("too_many_items",
                $"{what}: batch {Batches} brings the count to {Items + count}, more than the {MaxItems} the peer announced or this node allows (Hutong:Collab:MaxPeerItems).");
        }

        if (isLast && exact && Items + count != MaxItems)
        {
            throw new CollabProtocolException("bad_message", $"{what}: {Items + count} items came back, {MaxItems} were sent.");
        }

        Items += count;
        Batches++;
        Ended = isLast;
    }
}
