using Hutong.Collab.Data;
using Hutong.Collab.Ids;

namespace Hutong.Server.Collab.DataSets;

/// <summary>
/// A stored data set's life: written while <see cref="Loading"/> (no job and no list of ready sets sees it), then
/// <see cref="Ready"/> in one conditional update — or deleted when refused. <see cref="Deleting"/>: its rows are being
/// removed in batches. Transitions: Loading → Ready | Deleting; Ready → Deleting.
/// </summary>
public enum DataSetState
{
    Loading,
    Ready,
    Deleting,
}

/// <summary>Where a data set's rows came from.</summary>
public enum DataSetSource
{
    Csv,
    Parquet,
    Payments,
}

/// <summary>What to do with a conversions id that appears more than once (after normalisation).</summary>
public enum DuplicatePolicy
{
    /// <summary>Refuse the upload, naming the rows (the default: a duplicate usually means a wrong join upstream).</summary>
    Refuse,

    /// <summary>Sum the values per id and keep the earliest time (one buyer, several purchases).</summary>
    Sum,
}

/// <summary>The wire names of the data set enums (store and API), one place.</summary>
public static class DataSetWire
{
    public static string Of(DataSetState s) => s switch
    {
        DataSetState.Loading => "loading",
        DataSetState.Ready => "ready",
        DataSetState.Deleting => "deleting",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    public static string Of(DataSetSource s) => s switch
    {
        DataSetSource.Csv => "csv",
        DataSetSource.Parquet => "parquet",
        DataSetSource.Payments => "payments",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    public static string Of(CollabDataSetKind k) => k switch
    {
        CollabDataSetKind.Conversions => "conversions",
        CollabDataSetKind.Exposures => "exposures",
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };

    public static string Of(IdRule r) => r switch
    {
        IdRule.Phone => "phone",
        IdRule.DeviceId => "device",
        IdRule.Opaque => "opaque",
        _ => throw new ArgumentOutOfRangeException(nameof(r), r, null),
    };

    public static string Of(CollabGroup g) => g switch
    {
        CollabGroup.None => "none",
        CollabGroup.Test => "test",
        CollabGroup.Control => "control",
        _ => throw new ArgumentOutOfRangeException(nameof(g), g, null),
    };

    public static string Of(DuplicatePolicy d) => d == DuplicatePolicy.Sum ? "sum" : "refuse";

    public static string Of(ValueFormat f) => f == ValueFormat.Amount ? "amount" : "minor";

    public static DataSetState State(string s) => s switch
    {
        "loading" => DataSetState.Loading,
        "ready" => DataSetState.Ready,
        "deleting" => DataSetState.Deleting,
        _ => throw new InvalidOperationException("unknown data set state in the store"),
    };

    public static CollabDataSetKind? Kind(string? s) => s switch
    {
        "conversions" => CollabDataSetKind.Conversions,
        "exposures" => CollabDataSetKind.Exposures,
        _ => null,
    };

    public static IdRule? Rule(string? s) => s switch
    {
        "phone" => IdRule.Phone,
        "device" => IdRule.DeviceId,
        "opaque" => IdRule.Opaque,
        _ => null,
    };

    public static CollabGroup Group(string s) => s switch
    {
        "test" => CollabGroup.Test,
        "control" => CollabGroup.Control,
        _ => CollabGroup.None,
    };

    public static DuplicatePolicy? Duplicates(string? s) => s switch
    {
        null or "" or "refuse" => DuplicatePolicy.Refuse,
        "sum" => DuplicatePolicy.Sum,
        _ => null,
    };

    public static ValueFormat? Format(string? s) => s switch
    {
        null or "" or "minor" => ValueFormat.Minor,
        "amount" => ValueFormat.Amount,
        _ => null,
    };
}

/// <summary>
/// How to read an upload: which columns hold what, the id rule, and the duplicate policy. Column names are matched
/// exactly (after trimming the header cell).
/// </summary>
public sealed record DataSetUploadOptions
{
    public required string Name { get; init; }

    public required CollabDataSetKind Kind { get; init; }

    public required IdRule Rule { get; init; }

    public string IdColumn { get; init; } = "id";

    /// <summary>Conversions: the value column (required); exposures: none.</summary>
    public string? ValueColumn { get; init; }

    public ValueFormat ValueFormat { get; init; } = ValueFormat.Minor;

    public string? TimeColumn { get; init; }

    /// <summary>Exposures: the campaign column (required).</summary>
    public string? CampaignColumn { get; init; }

    /// <summary>Exposures: the test/control column (optional; without it every row is in no group).</summary>
    public string? GroupColumn { get; init; }

    public string Currency { get; init; } = "CNY";

    public DuplicatePolicy Duplicates { get; init; } = DuplicatePolicy.Refuse;

    /// <summary>What is recorded with the data set (column names and choices; never any row's content).</summary>
    public IReadOnlyDictionary<string, string?> Describe() => new SortedDictionary<string, string?>(StringComparer.Ordinal)
    {
        ["id_column"] = IdColumn,
        ["value_column"] = ValueColumn,
        ["value_format"] = Kind == CollabDataSetKind.Conversions ? DataSetWire.Of(ValueFormat) : null,
        ["time_column"] = TimeColumn,
        ["campaign_column"] = CampaignColumn,
        ["group_column"] = GroupColumn,
        ["duplicates"] = Kind == CollabDataSetKind.Conversions ? DataSetWire.Of(Duplicates) : "keep_first_exposure",
    };
}

/// <summary>
/// Bounds on uploads (configuration section Hutong:Collab:DataSets). Whatever an upload's size, the hub's memory stays bounded
/// by <see cref="ChunkRows"/> rows in flight; these cap the store's growth and the time one upload takes.
/// </summary>
public sealed class CollabDataSetLimits
{
    public const string Section = "Hutong:Collab:DataSets";

    /// <summary>At most this many input rows (data rows, not counting the header).</summary>
    public long MaxRows { get; set; } = 20_000_000;

    /// <summary>At most this many bytes of file (CSV or Parquet) per upload.</summary>
    public long MaxBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Refused rows listed in one problem before the upload stops reading.</summary>
    public int MaxProblems { get; set; } = 20;

    /// <summary>Rows written per transaction.</summary>
    public int ChunkRows { get; set; } = 5_000;

    /// <summary>A data set still loading after this long without progress is left over from a crash and is swept.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>A data set as the admin API shows it. Never any id: only counts, totals and the options used.</summary>
public sealed record CollabDataSetDto(
    string Id,
    string Object,
    string Name,
    string Kind,
    string IdRule,
    string IdRuleName,
    string Currency,
    string Source,
    string State,
    int StoredBuckets,
    long Rows,
    long InputRows,
    long MergedRows,
    long ValueTotal,
    long InputBytes,
    IReadOnlyDictionary<string, string?> Options,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ReadyAt);

public sealed record CollabDataSetList(string Object, IReadOnlyList<CollabDataSetDto> Data);
