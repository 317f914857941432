using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hutong.Collab.Node;

/// <summary>Which side of a job a party is: the one that proposed it, or the one it was proposed to.</summary>
public enum CollabSide
{
    Proposer,
    Peer,
}

/// <summary>
/// What both parties approve, identical on both nodes (its SHA-256 is what an approval names): the protocol, each
/// side's data set, who receives the answer, the release policy and the number of hash buckets. Parties are named by
/// their certificate fingerprints, so a node knows which side it is.
/// </summary>
/// <param name="Protocol">"overlap" (PSI cardinality) or "attribution" (intersection-sum with cardinality, per campaign × group).</param>
/// <param name="OutputTo">"proposer", "peer" or "both". Attribution: the ad side (holder of the exposures) or both.</param>
/// <param name="AdSide">Attribution only: which side holds the exposures ("proposer" or "peer").</param>
/// <param name="MinimumCount">Counts below it are not released (per segment for attribution).</param>
/// <param name="Epsilon">Optional ε of the two-sided geometric noise added to each released count.</param>
/// <param name="Buckets">Hash buckets (<see cref="Hutong.Collab.Data.CollabBuckets.BucketOf"/>), the unit of progress and resume.</param>
/// <param name="SpendFen">Attribution with lift: the campaign spend, for iROAS (optional).</param>
public sealed record CollabTerms(
    string Protocol,
    string ProposerFingerprint,
    string PeerFingerprint,
    string ProposerDataSet,
    string PeerDataSet,
    string OutputTo,
    string? AdSide,
    long MinimumCount,
    double? Epsilon,
    int Buckets,
    long? SpendFen)
{
    public const string Overlap = "overlap";
    public const string Attribution = "attribution";
    public const string VflTrain = "vfl-train";

    /// <summary>Batch scoring of a feature table with a finished vfl-train job's model; the per-row scores go to the label side only.</summary>
    public const string VflScore = "vfl-score";

    /// <summary>vfl-score only: the finished vfl-train job whose model scores (absent from other jobs' terms and hash).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TrainJob { get; init; }

    /// <summary>vfl-train only: the training hyperparameters both parties approve (absent from other jobs' terms and hash).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public VflTerms? Vfl { get; init; }
    public const int MaxBuckets = 4096;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The side that computes (drives the protocol): the count's receiver for overlap, the ad side for attribution.</summary>
    [JsonIgnore]
    public CollabSide Driver => Protocol switch
    {
        Attribution => AdSide == "peer" ? CollabSide.Peer : CollabSide.Proposer,
        VflTrain or VflScore => AdSide == "peer" ? CollabSide.Proposer : CollabSide.Peer, // the label side drives the training and the scoring
        _ => OutputTo == "peer" ? CollabSide.Peer : CollabSide.Proposer,
    };

    /// <summary>Whether the side that does not drive also receives the answer.</summary>
    [JsonIgnore]
    public bool DeliverToOther => OutputTo == "both";

    public string DataSetOf(CollabSide side) => side == CollabSide.Proposer ? ProposerDataSet : PeerDataSet;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static CollabTerms FromJson(string json) =>
        JsonSerializer.Deserialize<CollabTerms>(json, Json) ?? throw new CollabProtocolException("bad_terms", "The job's terms are empty.");

    public string Sha256() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())));

    /// <summary>Every problem with the terms (empty when they are valid), as (field, message).</summary>
    public IReadOnlyList<(string Field, string Message)> Problems()
    {
        var p = new List<(string, string)>();
        if (Protocol is not (Overlap or Attribution or VflTrain or VflScore))
        {
            p.Add(("protocol", "must be overlap, attribution, vfl-train or vfl-score"));
        }

        if (string.IsNullOrWhiteSpace(ProposerDataSet) || ProposerDataSet.Length > 100)
        {
            p.Add(("own_data_set", "is required (at most 100 characters)"));
        }

        if (string.IsNullOrWhiteSpace(PeerDataSet) || PeerDataSet.Length > 100)
        {
            p.Add(("peer_data_set", "is required (at most 100 characters)"));
        }

        if (OutputTo is not ("proposer" or "peer" or "both"))
        {
            p.Add(("output_to", "must be proposer, peer or both"));
        }

        if (Protocol == Attribution)
        {
            if (AdSide is not ("proposer" or "peer"))
            {
                p.Add(("ad_side", "attribution needs ad_side: proposer or peer (the side holding the exposures)"));
            }
            else if (OutputTo != "both" && OutputTo != AdSide)
            {
                p.Add(("output_to", "attribution's answer goes to the ad side (or both)"));
            }
        }
        else if (Protocol == VflTrain)
        {
            if (AdSide is not ("proposer" or "peer"))
            {
                p.Add(("ad_side", "vfl-train needs ad_side: proposer or peer (the side without labels)"));
            }

            if (OutputTo != "both")
            {
                p.Add(("output_to", "vfl-train leaves each party its own part of the model: output_to must be both"));
            }

            if (Vfl is null)
            {
                p.Add(("vfl", "vfl-train needs its hyperparameters"));
            }
            else if (Vfl.Problem() is { } problem)
            {
                p.Add(("vfl", problem));
            }
        }
        else if (Protocol == VflScore)
        {
            if (AdSide is not ("proposer" or "peer"))
            {
                p.Add(("ad_side", "vfl-score needs ad_side: proposer or peer (the side without labels)"));
            }
            else if (OutputTo != (AdSide == "peer" ? "proposer" : "peer"))
            {
                p.Add(("output_to", "vfl-score's per-row scores go to the label side only (the ad side learns counts)"));
            }

            if (string.IsNullOrWhiteSpace(TrainJob) || TrainJob.Length > 64)
            {
                p.Add(("train_job", "vfl-score needs the finished vfl-train job whose model scores (at most 64 characters)"));
            }
        }
        else if (AdSide is not null)
        {
            p.Add(("ad_side", "only for attribution, vfl-train and vfl-score"));
        }

        if (Protocol != VflScore && TrainJob is not null)
        {
            p.Add(("train_job", "only for vfl-score"));
        }

        if (Protocol != VflTrain && Vfl is not null)
        {
            p.Add(("vfl", "only for vfl-train"));
        }

        if (MinimumCount < 0)
        {
            p.Add(("minimum_count", "cannot be negative"));
        }

        if (Epsilon is { } e && (double.IsNaN(e) || e <= 0 || e > 20))
        {
            p.Add(("epsilon", "must be in (0, 20]"));
        }

        if (Buckets is < 1 or > MaxBuckets)
        {
            p.Add(("buckets", $"must be 1–{MaxBuckets}"));
        }

        if (SpendFen is <= 0)
        {
            p.Add(("spend_fen", "must be positive"));
        }

        if (ProposerFingerprint == PeerFingerprint)
        {
            p.Add(("peer", "a node cannot cooperate with itself"));
        }

        return p;
    }
}

/// <summary>
/// The hyperparameters of a vfl-train job (both parties approve them as part of the terms): epochs, mini-batch size,
/// learning rate, L2, early-stopping tolerance, the seed of the split and batch order, the held-out share. A partial
/// object (say only <c>{"epochs": 3}</c>) takes the defaults of <see cref="Hutong.Collab.Vfl.Protocol.VflOptions"/> for
/// the rest: System.Text.Json fills a missing constructor parameter with its default value (a test pins these
/// constants to VflOptions'). The stored terms always carry all seven, so both parties hash the same JSON.
/// </summary>
public sealed record VflTerms(
    int Epochs = 10, int BatchSize = 512, double LearningRate = 0.3, double L2 = 0.001, double Tolerance = 1e-4, int Seed = 20, double HoldoutShare = 0.2)
{
    public static VflTerms Default { get; } = FromOptions(new Hutong.Collab.Vfl.Protocol.VflOptions());

    public static VflTerms FromOptions(Hutong.Collab.Vfl.Protocol.VflOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new(o.Epochs, o.BatchSize, o.LearningRate, o.L2, o.Tolerance, o.Seed, o.HoldoutShare);
    }

    public Hutong.Collab.Vfl.Protocol.VflOptions ToOptions() => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, L2 = L2, Tolerance = Tolerance, Seed = Seed, HoldoutShare = HoldoutShare,
    };

    public string? Problem()
    {
        try
        {
            ToOptions().Validate();
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }
}
