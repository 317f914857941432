namespace Hutong.Server.Features.Links;

public sealed class LinkRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Code { get; set; } = string.Empty;

    public string Url { get; set; } = string.Empty;

    public string Title { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string? ImageUrl { get; set; }

    public string? IosUrl { get; set; }

    public string? AndroidPackage { get; set; }

    public string? AndroidUrl { get; set; }

    public string? DesktopUrl { get; set; }

    public long? ExpiresAt { get; set; }

    public string Status { get; set; } = string.Empty;

    public long CreatedAt { get; set; }

    public long? RevokedAt { get; set; }

    public bool IsLive(long nowMs) => Status == "active" && (ExpiresAt is null || ExpiresAt > nowMs);
}

public sealed class ShareCodeRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Code { get; set; } = string.Empty;

    public string LinkId { get; set; } = string.Empty;

    public string Text { get; set; } = string.Empty;

    public long ExpiresAt { get; set; }

    public string Status { get; set; } = string.Empty;

    public long Resolves { get; set; }

    public long CreatedAt { get; set; }

    public long? RevokedAt { get; set; }
}

/// <summary>POST /v1/links. Only url and title are required; every per-app target falls back to url.</summary>
/// <param name="Url">The product or page (http/https).</param>
/// <param name="IosUrl">An https universal link on the app's associated domain (opens the app if installed).</param>
/// <param name="AndroidPackage">The Android app's package, e.g. com.example.shop.</param>
/// <param name="AndroidUrl">The app's deep link (myshop://product/42); sent as an intent:// URL that falls back to url.</param>
/// <param name="DesktopUrl">Where desktop browsers go instead of url.</param>
/// <param name="ExpiresInSeconds">Optional lifetime; without it the link lives until revoked.</param>
public sealed record CreateLinkRequest(
    string? Url, string? Title, string? Description, string? ImageUrl, string? IosUrl, string? AndroidPackage, string? AndroidUrl,
    string? DesktopUrl, long? ExpiresInSeconds);

public sealed record LinkClicks(long Total, IReadOnlyDictionary<string, long> ByPlatform);

public sealed record LinkDto(
    string Id, string Object, string Code, string ShortUrl, string QrPngUrl, string Url, string Title, string? Description, string? ImageUrl,
    string? IosUrl, string? AndroidPackage, string? AndroidUrl, string? DesktopUrl, string Status, DateTimeOffset? ExpiresAt,
    DateTimeOffset CreatedAt, LinkClicks Clicks);

/// <summary>POST /v1/share_codes: for an existing link, or for a url (a link is created with it). Default lifetime 30 days.</summary>
public sealed record CreateShareCodeRequest(string? LinkId, string? Url, string? Title, long? ExpiresInSeconds);

public sealed record ShareCodeDto(
    string Id, string Object, string Code, string Text, string Link, string ShortUrl, string Status, DateTimeOffset ExpiresAt, long Resolves, DateTimeOffset CreatedAt);

/// <summary>What anyone holding the share text may learn: the public face of the product, never merchant data.</summary>
public sealed record ShareCodeResolution(string Object, string Code, string Title, string? Description, string? ImageUrl, string ShortUrl, string Url, DateTimeOffset ExpiresAt);
