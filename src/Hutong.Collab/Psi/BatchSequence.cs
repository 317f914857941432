namespace Hutong.Collab.Psi;

/// <summary>
/// Refuses a replayed, skipped or late batch: within a stream (type, segment, bucket) batches arrive 0, 1, 2, … and
/// nothing after the last. The state (next index and whether the stream ended) is what a resumed job restores.
/// </summary>
public sealed class BatchSequence
{
    private readonly Dictionary<(string Type, string Segment, int Bucket), (int Next, bool Ended)> streams = [];

    /// <summary>Refuses a batch that is not the next of its stream; records nothing (see <see cref="Commit"/>).</summary>
    public void Check(EcdhPsiCipherBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (next, ended) = streams.GetValueOrDefault((batch.Type, batch.Segment, batch.BucketIndex));
        if (ended || batch.BatchIndex < next)
        {
            throw new CollabProtocolException("replayed_batch",
                $"'{batch.Type}' batch {batch.BatchIndex} (bucket {batch.BucketIndex}) was already received.");
        }

        if (batch.BatchIndex > next)
        {
            throw new CollabProtocolException("batch_out_of_order",
                $"'{batch.Type}' batch {batch.BatchIndex} (bucket {batch.BucketIndex}) arrived before batch {next}.");
        }
    }

    /// <summary>Records a checked batch once it was processed, so a batch refused half-way can be sent again.</summary>
    public void Commit(EcdhPsiCipherBatch batch)
    {
        Check(batch);
        streams[(batch.Type, batch.Segment, batch.BucketIndex)] = (batch.BatchIndex + 1, batch.IsLastBatch);
    }

    public bool Ended(string type, string segment, int bucket) =>
        streams.TryGetValue((type, segment, bucket), out var s) && s.Ended;

    public int Received(string type, string segment, int bucket) => streams.GetValueOrDefault((type, segment, bucket)).Next;
}
