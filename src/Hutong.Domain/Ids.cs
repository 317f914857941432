using System.Security.Cryptography;

namespace Hutong.Domain;

/// <summary>
/// Prefixed, time-ordered identifiers (UUIDv7 in hex) so ids sort by creation time,
/// which keeps B-tree inserts local and makes cursor pagination a simple range scan.
/// </summary>
public static class Ids
{
    public const string Payment = "pay";
    public const string Attempt = "att";
    public const string Merchant = "mch";
    public const string Event = "evt";
    public const string WebhookEndpoint = "we";
    public const string Refund = "re";
    public const string Split = "spl";
    public const string FriendPayLink = "fpl";
    public const string Link = "lnk";
    public const string ShareCode = "sc";
    public const string Host = "host";
    public const string HostContract = "hc";
    public const string HostStatement = "hst";
    public const string Payout = "po";
    public const string Dispute = "dp";
    public const string SubsidyCampaign = "subc";
    public const string File = "file";
    public const string SplitReceiver = "rcv";

    /// <summary>API keys are <c>key_</c> and 12 lowercase hex digits (MerchantStore), not a UUIDv7.</summary>
    public const string ApiKey = "key";

    private static readonly Lock Gate = new();
    private static long _lastMs;
    private static int _counter;

    public static string New(string prefix) => New(prefix, DateTimeOffset.UtcNow);

    public static string New(string prefix, DateTimeOffset at) => $"{prefix}_{MonotonicV7(at):N}";

    /// <summary>
    /// A UUIDv7 that also orders ids made within one millisecond (RFC 9562 §6.2, method 1: the 12-bit rand_a
    /// field is a counter seeded at random each millisecond). Guid.CreateVersion7 leaves those bits random, so two
    /// payments created in the same millisecond could list in the wrong order.
    /// </summary>
    public static Guid MonotonicV7(DateTimeOffset at)
    {
        long ms;
        int counter;
        lock (Gate)
        {
            ms = Math.Max(at.ToUnixTimeMilliseconds(), _lastMs);
            if (ms == _lastMs)
            {
                if (++_counter > 0xFFF)
                {
                    ms = ++_lastMs; // counter exhausted: borrow the next millisecond
                    _counter = RandomNumberGenerator.GetInt32(0, 0x800);
                }
            }
            else
            {
                _lastMs = ms;
                _counter = RandomNumberGenerator.GetInt32(0, 0x800); // leave headroom to count up
            }

            counter = _counter;
        }

        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b[8..]);
        b[0] = (byte)(ms >> 40);
        b[1] = (byte)(ms >> 32);
        b[2] = (byte)(ms >> 24);
        b[3] = (byte)(ms >> 16);
        b[4] = (byte)(ms >> 8);
        b[5] = (byte)ms;
        b[6] = (byte)(0x70 | (counter >> 8));
        b[7] = (byte)counter;
        b[8] = (byte)(0x80 | (b[8] & 0x3F));
        return new Guid(b, bigEndian: true);
    }

    /// <summary>An unguessable token with at least 128 bits of entropy, URL safe.</summary>
    public static string Token(int bytes = 24) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// An unguessable token (192 random bits) that starts with its creation time in hex, so tokens made together sit
    /// together in a unique index: a random first character would touch a different index page with every insert,
    /// and each such page is written out again by every commit.
    /// </summary>
    public static string OrderedToken(DateTimeOffset at) => at.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture) + Token();

    public static bool HasPrefix(string? id, string prefix) =>
        id is not null && id.Length == prefix.Length + 33 && id.StartsWith(prefix + "_", StringComparison.Ordinal);
}

/// <summary>
/// An id bound from a route value (minimal APIs bind any type with a static <c>TryParse</c>). One that does not parse
/// binds as <c>default</c>, which is not <see cref="IsBound"/>: the edge answers it as an unknown <see cref="What"/>.
/// </summary>
public interface IRouteId
{
    /// <summary>False for <c>default</c>: the route held no well-formed id of this kind.</summary>
    bool IsBound { get; }

    /// <summary>The noun the API's "No such …" problem names.</summary>
    string What { get; }
}

/// <summary>A payment's id (<c>pay_…</c>).</summary>
public readonly record struct PaymentId(string Value) : IRouteId, IParsable<PaymentId>
{
    public bool IsBound => Value is not null;

    public string What => "payment";

    public static bool TryParse(string? s, IFormatProvider? provider, out PaymentId result)
    {
        result = Ids.HasPrefix(s, Ids.Payment) ? new PaymentId(s!) : default;
        return result.IsBound;
    }

    public static PaymentId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a payment id: {s}");

    public override string ToString() => Value;
}

/// <summary>A refund's id (<c>re_…</c>).</summary>
public readonly record struct RefundId(string Value) : IRouteId, IParsable<RefundId>
{
    public bool IsBound => Value is not null;

    public string What => "refund";

    public static bool TryParse(string? s, IFormatProvider? provider, out RefundId result)
    {
        result = Ids.HasPrefix(s, Ids.Refund) ? new RefundId(s!) : default;
        return result.IsBound;
    }

    public static RefundId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a refund id: {s}");

    public override string ToString() => Value;
}

/// <summary>A platform subsidy campaign's id (<c>subc_…</c>).</summary>
public readonly record struct SubsidyCampaignId(string Value) : IRouteId, IParsable<SubsidyCampaignId>
{
    public bool IsBound => Value is not null;

    public string What => "subsidy campaign";

    public static bool TryParse(string? s, IFormatProvider? provider, out SubsidyCampaignId result)
    {
        result = Ids.HasPrefix(s, Ids.SubsidyCampaign) ? new SubsidyCampaignId(s!) : default;
        return result.IsBound;
    }

    public static SubsidyCampaignId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a subsidy campaign id: {s}");

    public override string ToString() => Value;
}

/// <summary>A livestream host's id (<c>host_…</c>).</summary>
public readonly record struct HostId(string Value) : IRouteId, IParsable<HostId>
{
    public bool IsBound => Value is not null;

    public string What => "host";

    public static bool TryParse(string? s, IFormatProvider? provider, out HostId result)
    {
        result = Ids.HasPrefix(s, Ids.Host) ? new HostId(s!) : default;
        return result.IsBound;
    }

    public static HostId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a host id: {s}");

    public override string ToString() => Value;
}

/// <summary>A payout's id (<c>po_…</c>).</summary>
public readonly record struct PayoutId(string Value) : IRouteId, IParsable<PayoutId>
{
    public bool IsBound => Value is not null;

    public string What => "payout";

    public static bool TryParse(string? s, IFormatProvider? provider, out PayoutId result)
    {
        result = Ids.HasPrefix(s, Ids.Payout) ? new PayoutId(s!) : default;
        return result.IsBound;
    }

    public static PayoutId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a payout id: {s}");

    public override string ToString() => Value;
}

/// <summary>An uploaded file's id (<c>file_…</c>).</summary>
public readonly record struct FileId(string Value) : IRouteId, IParsable<FileId>
{
    public bool IsBound => Value is not null;

    public string What => "file";

    public static bool TryParse(string? s, IFormatProvider? provider, out FileId result)
    {
        result = Ids.HasPrefix(s, Ids.File) ? new FileId(s!) : default;
        return result.IsBound;
    }

    public static FileId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a file id: {s}");

    public override string ToString() => Value;
}

/// <summary>A dispute's id (<c>dp_…</c>).</summary>
public readonly record struct DisputeId(string Value) : IRouteId, IParsable<DisputeId>
{
    public bool IsBound => Value is not null;

    public string What => "dispute";

    public static bool TryParse(string? s, IFormatProvider? provider, out DisputeId result)
    {
        result = Ids.HasPrefix(s, Ids.Dispute) ? new DisputeId(s!) : default;
        return result.IsBound;
    }

    public static DisputeId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a dispute id: {s}");

    public override string ToString() => Value;
}

/// <summary>A split's id (<c>spl_…</c>).</summary>
public readonly record struct SplitId(string Value) : IRouteId, IParsable<SplitId>
{
    public bool IsBound => Value is not null;

    public string What => "split";

    public static bool TryParse(string? s, IFormatProvider? provider, out SplitId result)
    {
        result = Ids.HasPrefix(s, Ids.Split) ? new SplitId(s!) : default;
        return result.IsBound;
    }

    public static SplitId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a split id: {s}");

    public override string ToString() => Value;
}

/// <summary>A split receiver's id (<c>rcv_…</c>).</summary>
public readonly record struct SplitReceiverId(string Value) : IRouteId, IParsable<SplitReceiverId>
{
    public bool IsBound => Value is not null;

    public string What => "split receiver";

    public static bool TryParse(string? s, IFormatProvider? provider, out SplitReceiverId result)
    {
        result = Ids.HasPrefix(s, Ids.SplitReceiver) ? new SplitReceiverId(s!) : default;
        return result.IsBound;
    }

    public static SplitReceiverId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a split receiver id: {s}");

    public override string ToString() => Value;
}

/// <summary>A friend-pay link's id (<c>fpl_…</c>).</summary>
public readonly record struct FriendPayLinkId(string Value) : IRouteId, IParsable<FriendPayLinkId>
{
    public bool IsBound => Value is not null;

    public string What => "friend_pay_link";

    public static bool TryParse(string? s, IFormatProvider? provider, out FriendPayLinkId result)
    {
        result = Ids.HasPrefix(s, Ids.FriendPayLink) ? new FriendPayLinkId(s!) : default;
        return result.IsBound;
    }

    public static FriendPayLinkId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a friend_pay_link id: {s}");

    public override string ToString() => Value;
}

/// <summary>A cross-app link's id (<c>lnk_…</c>); its public short code is not an id.</summary>
public readonly record struct LinkId(string Value) : IRouteId, IParsable<LinkId>
{
    public bool IsBound => Value is not null;

    public string What => "link";

    public static bool TryParse(string? s, IFormatProvider? provider, out LinkId result)
    {
        result = Ids.HasPrefix(s, Ids.Link) ? new LinkId(s!) : default;
        return result.IsBound;
    }

    public static LinkId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a link id: {s}");

    public override string ToString() => Value;
}

/// <summary>A share code's id (<c>sc_…</c>); the code people paste is not an id.</summary>
public readonly record struct ShareCodeId(string Value) : IRouteId, IParsable<ShareCodeId>
{
    public bool IsBound => Value is not null;

    public string What => "share_code";

    public static bool TryParse(string? s, IFormatProvider? provider, out ShareCodeId result)
    {
        result = Ids.HasPrefix(s, Ids.ShareCode) ? new ShareCodeId(s!) : default;
        return result.IsBound;
    }

    public static ShareCodeId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a share_code id: {s}");

    public override string ToString() => Value;
}

/// <summary>A host contract's id (<c>hc_…</c>).</summary>
public readonly record struct HostContractId(string Value) : IRouteId, IParsable<HostContractId>
{
    public bool IsBound => Value is not null;

    public string What => "host_contract";

    public static bool TryParse(string? s, IFormatProvider? provider, out HostContractId result)
    {
        result = Ids.HasPrefix(s, Ids.HostContract) ? new HostContractId(s!) : default;
        return result.IsBound;
    }

    public static HostContractId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a host_contract id: {s}");

    public override string ToString() => Value;
}

/// <summary>An event's id (<c>evt_…</c>).</summary>
public readonly record struct EventId(string Value) : IRouteId, IParsable<EventId>
{
    public bool IsBound => Value is not null;

    public string What => "event";

    public static bool TryParse(string? s, IFormatProvider? provider, out EventId result)
    {
        result = Ids.HasPrefix(s, Ids.Event) ? new EventId(s!) : default;
        return result.IsBound;
    }

    public static EventId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not an event id: {s}");

    public override string ToString() => Value;
}

/// <summary>A webhook endpoint's id (<c>we_…</c>).</summary>
public readonly record struct WebhookEndpointId(string Value) : IRouteId, IParsable<WebhookEndpointId>
{
    public bool IsBound => Value is not null;

    public string What => "webhook endpoint";

    public static bool TryParse(string? s, IFormatProvider? provider, out WebhookEndpointId result)
    {
        result = Ids.HasPrefix(s, Ids.WebhookEndpoint) ? new WebhookEndpointId(s!) : default;
        return result.IsBound;
    }

    public static WebhookEndpointId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a webhook endpoint id: {s}");

    public override string ToString() => Value;
}

/// <summary>A merchant's id (<c>mch_…</c>), in /admin routes.</summary>
public readonly record struct MerchantId(string Value) : IRouteId, IParsable<MerchantId>
{
    public bool IsBound => Value is not null;

    public string What => "merchant";

    public static bool TryParse(string? s, IFormatProvider? provider, out MerchantId result)
    {
        result = Ids.HasPrefix(s, Ids.Merchant) ? new MerchantId(s!) : default;
        return result.IsBound;
    }

    public static MerchantId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a merchant id: {s}");

    public override string ToString() => Value;
}

/// <summary>An API key's id (<c>key_</c> and 12 lowercase hex digits), in /admin routes.</summary>
public readonly record struct ApiKeyId(string Value) : IRouteId, IParsable<ApiKeyId>
{
    public bool IsBound => Value is not null;

    public string What => "api key";

    public static bool TryParse(string? s, IFormatProvider? provider, out ApiKeyId result)
    {
        result = s is { Length: 16 } && s.StartsWith(Ids.ApiKey + "_", StringComparison.Ordinal) && !s.AsSpan(4).ContainsAnyExcept("0123456789abcdef")
            ? new ApiKeyId(s)
            : default;
        return result.IsBound;
    }

    public static ApiKeyId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not an api key id: {s}");

    public override string ToString() => Value;
}
