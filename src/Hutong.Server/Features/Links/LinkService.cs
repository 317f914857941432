using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Links;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Links;

/// <summary>
/// Cross-app links and share codes. Redirect lookups are served from memory (Hutong:CacheTtl at most; a revoke evicts
/// the link at once on this instance, and through <see cref="CacheBus"/> on every other) so a click costs no database round
/// trip; clicks are counted off the request path by <see cref="ClickCounter"/>.
/// </summary>
public sealed partial class LinkService(Db db, IMemoryCache cache, IOptions<HubOptions> options, TimeProvider time, CacheBus? caches = null)
{
    public const string LinkPrefix = Ids.Link;
    public const string SharePrefix = Ids.ShareCode;
    public static readonly TimeSpan DefaultShareCodeLifetime = TimeSpan.FromDays(30);
    private readonly TimeSpan _cacheFor = caches?.Ttl ?? CacheBus.DefaultTtl;

    // The memory cache is shared with nothing else but cannot be emptied: a clear starts a new epoch, and older entries miss.
    private readonly CacheTracker _tracker = CacheTracker.Track(caches, CacheBus.Link, code => cache.Remove(CacheKey(code)), () => { });

    private sealed record CachedLink(LinkRow? Row, long Epoch);
    private static readonly IReadOnlyDictionary<string, long> NoClicks = new Dictionary<string, long>();
    private const string CodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private string BaseUrl => options.Value.PublicBaseUrl.TrimEnd('/');

    public string ShortUrl(string code) => $"{BaseUrl}/l/{code}";

    public async Task<Outcome<LinkDto>> CreateLinkAsync(string merchantId, CreateLinkRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var (errors, normalized) = Validate(r);
        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        return await db.WriteAsync(async (c, t) =>
        {
            var row = await InsertLinkAsync(c, t, merchantId, normalized);
            var result = Outcome.Created(ToDto(row, NoClicks));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    private async Task<LinkRow> InsertLinkAsync(DbConnection c, DbTransaction t, string merchantId, CreateLinkRequest r)
    {
        var now = time.GetUtcNow();
        var row = new LinkRow
        {
            Id = Ids.New(LinkPrefix, now),
            MerchantId = merchantId,
            Code = new string(RandomNumberGenerator.GetItems<char>(CodeAlphabet, 8)), // ~47 bits: public, but not enumerable
            Url = r.Url!,
            Title = r.Title!.Trim(),
            Description = r.Description,
            ImageUrl = r.ImageUrl,
            IosUrl = r.IosUrl,
            AndroidPackage = r.AndroidPackage,
            AndroidUrl = r.AndroidUrl,
            DesktopUrl = r.DesktopUrl,
            ExpiresAt = r.ExpiresInSeconds is { } s ? now.AddSeconds(s).ToUnixTimeMilliseconds() : null,
            Status = "active",
            CreatedAt = now.ToUnixTimeMilliseconds(),
        };
        await c.ExecuteAsync(
            """
            INSERT INTO links (id, merchant_id, code, url, title, description, image_url, ios_url, android_package, android_url, desktop_url,
                               expires_at, status, created_at)
            VALUES (@Id, @MerchantId, @Code, @Url, @Title, @Description, @ImageUrl, @IosUrl, @AndroidPackage, @AndroidUrl, @DesktopUrl,
                    @ExpiresAt, @Status, @CreatedAt)
            """, row, t);
        return row;
    }

    public async Task<Outcome<LinkDto>> GetLinkAsync(string merchantId, string id, CancellationToken ct)
    {
        var row = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<LinkRow?>("SELECT * FROM links WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);
        return row is null ? Failure.NotFound("link") : Outcome.Ok(ToDto(row, await ClicksAsync(row.Id, ct)));
    }

    public async Task<Outcome<LinkDto>> RevokeLinkAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await db.WriteAsync(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<LinkRow?>("SELECT * FROM links WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return ((Outcome<LinkDto>)Failure.NotFound("link"), (string?)null);
            }

            if (row.Status == "active")
            {
                row.Status = "revoked";
                row.RevokedAt = now;
                await c.ExecuteAsync("UPDATE links SET status = 'revoked', revoked_at = @now WHERE id = @id", new { now, id }, t);
                await CacheBus.SendAsync(c, t, CacheBus.Link, row.Code); // the other instances forget it when this commits
            }

            var ok = Outcome.Ok(ToDto(row, NoClicks));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, ok);
            }

            return (ok, row.Code);
        }, ct);
        if (result.Item2 is { } code)
        {
            _tracker.Evict(code);
        }

        return result.Item1;
    }

    /// <summary>The redirect's lookup: memory first. Null for unknown codes (also cached, briefly, against floods).</summary>
    public async ValueTask<LinkRow?> FindByCodeAsync(string code, CancellationToken ct)
    {
        if (cache.TryGetValue(CacheKey(code), out CachedLink? hit) && hit is not null && hit.Epoch == _tracker.Epoch)
        {
            return hit.Row;
        }

        var (generation, epoch) = (_tracker.Generation, _tracker.Epoch);
        var row = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<LinkRow?>("SELECT * FROM links WHERE code = @code", new { code }), ct);
        if (_tracker.MayCache(generation))
        {
            cache.Set(CacheKey(code), new CachedLink(row, epoch), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = _cacheFor, Size = 1 });
        }

        return row;
    }

    private static string CacheKey(string code) => "link:" + code;

    public async Task<IReadOnlyDictionary<string, long>> ClicksAsync(string linkId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<(string Platform, long Clicks)>("SELECT platform, clicks FROM link_clicks WHERE link_id = @linkId", new { linkId }), ct))
        .ToDictionary(x => x.Platform, x => x.Clicks);

    public LinkDto ToDto(LinkRow r, IReadOnlyDictionary<string, long> clicks) => new(
        r.Id, "link", r.Code, ShortUrl(r.Code), ShortUrl(r.Code) + "/qr.png", r.Url, r.Title, r.Description, r.ImageUrl, r.IosUrl, r.AndroidPackage,
        r.AndroidUrl, r.DesktopUrl, r.Status, r.ExpiresAt is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), new LinkClicks(clicks.Values.Sum(), clicks));

    // ---- share codes ----

    /// <param name="alsoInTransaction">Written in the share code's transaction with its id (the console's audit line).</param>
    public async Task<Outcome<ShareCodeDto>> CreateShareCodeAsync(string merchantId, CreateShareCodeRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, string, Task>? alsoInTransaction = null)
    {
        var errors = new Dictionary<string, string[]>();
        CreateLinkRequest? newLink = null;
        if ((r.LinkId is null) == (r.Url is null))
        {
            errors["link_id"] = ["Give either link_id (an existing link) or url and title (a link is created)."];
        }
        else if (r.Url is not null)
        {
            var (linkErrors, normalized) = Validate(new CreateLinkRequest(r.Url, r.Title, null, null, null, null, null, null, null));
            newLink = normalized;
            foreach (var (k, v) in linkErrors)
            {
                errors[k] = v;
            }
        }

        if (r.ExpiresInSeconds is { } s && (s < 60 || s > 366 * 86400))
        {
            errors["expires_in_seconds"] = ["expires_in_seconds must be between 60 and 31,622,400 (366 days)."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<ShareCodeDto>>(async (c, t) =>
        {
            LinkRow? link;
            if (r.LinkId is not null)
            {
                link = await c.QuerySingleOrDefaultAsync<LinkRow?>("SELECT * FROM links WHERE id = @LinkId AND merchant_id = @merchantId", new { r.LinkId, merchantId }, t);
                if (link is null)
                {
                    return Failure.NotFound("link");
                }

                if (!link.IsLive(now.ToUnixTimeMilliseconds()))
                {
                    return Failure.Conflict("link_not_active", "The link is revoked or expired.");
                }
            }
            else
            {
                link = await InsertLinkAsync(c, t, merchantId, newLink!);
            }

            var code = ShareCode.NewCode();
            var row = new ShareCodeRow
            {
                Id = Ids.New(SharePrefix, now),
                MerchantId = merchantId,
                Code = code,
                LinkId = link.Id,
                Text = ShareCode.ShareText(code, link.Title, ShortUrl(link.Code)),
                ExpiresAt = now.Add(r.ExpiresInSeconds is { } secs ? TimeSpan.FromSeconds(secs) : DefaultShareCodeLifetime).ToUnixTimeMilliseconds(),
                Status = "active",
                CreatedAt = now.ToUnixTimeMilliseconds(),
            };
            await c.ExecuteAsync(
                """
                INSERT INTO share_codes (id, merchant_id, code, link_id, text, expires_at, status, resolves, created_at)
                VALUES (@Id, @MerchantId, @Code, @LinkId, @Text, @ExpiresAt, @Status, 0, @CreatedAt)
                """, row, t);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, row.Id);
            }

            var result = Outcome.Created(ToDto(row, link));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    public async Task<Outcome<ShareCodeDto>> GetShareCodeAsync(string merchantId, string id, CancellationToken ct)
    {
        var (row, link) = await db.ReadAsync(async c =>
        {
            var s = await c.QuerySingleOrDefaultAsync<ShareCodeRow?>("SELECT * FROM share_codes WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId });
            return (s, s is null ? null : await c.QuerySingleAsync<LinkRow>("SELECT * FROM links WHERE id = @LinkId", new { s.LinkId }));
        }, ct);
        return row is null ? Failure.NotFound("share_code") : Outcome.Ok(ToDto(row, link!));
    }

    /// <param name="alsoInTransaction">Written in the revocation's transaction when this call revoked it (the console's audit line).</param>
    public async Task<Outcome<ShareCodeDto>> RevokeShareCodeAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return await db.WriteAsync<Outcome<ShareCodeDto>>(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<ShareCodeRow?>("SELECT * FROM share_codes WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("share_code");
            }

            if (row.Status == "active")
            {
                row.Status = "revoked";
                row.RevokedAt = now;
                await c.ExecuteAsync("UPDATE share_codes SET status = 'revoked', revoked_at = @now WHERE id = @id", new { now, id }, t);
                if (alsoInTransaction is not null)
                {
                    await alsoInTransaction(c, t);
                }
            }

            var link = await c.QuerySingleAsync<LinkRow>("SELECT * FROM links WHERE id = @LinkId", new { row.LinkId }, t);
            var result = Outcome.Ok(ToDto(row, link));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>Outcome of resolving pasted text: found, nothing recognisable, or a code that no longer works.</summary>
    public enum ResolveOutcome
    {
        Found,
        NoCode,
        Unknown,
        Expired,
    }

    /// <summary>Finds the share code in pasted text and resolves it to its product; counts the resolution.</summary>
    public async Task<(ResolveOutcome Outcome, ShareCodeResolution? Resolution, LinkRow? Link)> ResolveAsync(string? text, CancellationToken ct)
    {
        var code = ShareCode.Find(text);
        if (code is null)
        {
            return (ResolveOutcome.NoCode, null, null);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var (row, link) = await db.ReadAsync(async c =>
        {
            var s = await c.QuerySingleOrDefaultAsync<ShareCodeRow?>("SELECT * FROM share_codes WHERE code = @code", new { code });
            return (s, s is null ? null : await c.QuerySingleAsync<LinkRow>("SELECT * FROM links WHERE id = @LinkId", new { s.LinkId }));
        }, ct);
        if (row is null || link is null)
        {
            return (ResolveOutcome.Unknown, null, null);
        }

        if (row.Status != "active" || row.ExpiresAt <= now || !link.IsLive(now))
        {
            return (ResolveOutcome.Expired, null, link);
        }

        await db.WriteAsync((c, t) => c.ExecuteAsync("UPDATE share_codes SET resolves = resolves + 1 WHERE id = @Id", new { row.Id }, t), ct);
        return (ResolveOutcome.Found, new ShareCodeResolution("share_code_resolution", row.Code, link.Title, link.Description, link.ImageUrl,
            ShortUrl(link.Code), link.Url, DateTimeOffset.FromUnixTimeMilliseconds(row.ExpiresAt)), link);
    }

    public ShareCodeDto ToDto(ShareCodeRow r, LinkRow link) => new(
        r.Id, "share_code", r.Code, r.Text, link.Id, ShortUrl(link.Code), r.Status, DateTimeOffset.FromUnixTimeMilliseconds(r.ExpiresAt), r.Resolves,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));

    /// <summary>
    /// Checks a link request and returns it with its URLs normalised (punycode hosts, percent-encoded paths): the stored
    /// URLs are what the redirect sends in a Location header, so they must be printable ASCII.
    /// </summary>
    private static (Dictionary<string, string[]> Errors, CreateLinkRequest Normalized) Validate(CreateLinkRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        string? Web(string field, string? value, bool required, bool httpsOnly = false, string? message = null)
        {
            if (value is null)
            {
                if (required)
                {
                    errors[field] = [$"{field} is required."];
                }

                return null;
            }

            var normalized = LinkUrl.NormalizeWeb(value, httpsOnly);
            if (normalized is null)
            {
                errors[field] = [message ?? $"{field} must be an absolute http(s) URL of at most {LinkUrl.MaxLength} characters, without control characters or user:password@."];
            }

            return normalized;
        }

        var url = Web("url", r.Url, required: true);
        var imageUrl = Web("image_url", r.ImageUrl, required: false);
        var desktopUrl = Web("desktop_url", r.DesktopUrl, required: false);
        var iosUrl = Web("ios_url", r.IosUrl, required: false, httpsOnly: true, message: "ios_url must be an https universal link.");

        if (r.AndroidPackage is not null && !Landing.IsAndroidPackage(r.AndroidPackage))
        {
            errors["android_package"] = ["android_package must be a package name such as com.example.shop."];
        }

        string? androidUrl = null;
        if (r.AndroidUrl is not null)
        {
            androidUrl = LinkUrl.NormalizeAppLink(r.AndroidUrl);
            if (androidUrl is null)
            {
                errors["android_url"] = ["android_url must be the app's deep link, e.g. myshop://product/42: an https App Link or the app's own scheme, "
                    + "without a #fragment, user:password@ or control characters. Browser schemes (javascript:, file:, intent: …) are refused."];
            }
            else if (r.AndroidPackage is null)
            {
                errors["android_package"] = ["android_package is required with android_url."];
            }
            else if (url is not null && !errors.ContainsKey("android_package") && Landing.AndroidIntent(androidUrl, r.AndroidPackage, url) is null)
            {
                // The click builds this intent (app URL, package and the url as fallback, percent-encoded); one that does not
                // fit a Location header would send Android users to the web page instead of the app: refused now, not then.
                errors["android_url"] = [$"android_url, android_package and url together make an Android intent URL longer than {LinkUrl.MaxLength} characters: shorten them."];
            }
        }

        if (string.IsNullOrWhiteSpace(r.Title) || r.Title.Length > 100)
        {
            errors["title"] = ["title is required, at most 100 characters."];
        }
        else if (!PlainText.IsPrintable(r.Title))
        {
            // The title goes into the share text (【title】) and the preview card: a line break or bidi control there changes what is read.
            errors["title"] = ["title " + PlainText.Refusal];
        }

        if (r.Description is { Length: > 300 })
        {
            errors["description"] = ["description is at most 300 characters."];
        }
        else if (r.Description is not null && !PlainText.IsPrintable(r.Description))
        {
            errors["description"] = ["description " + PlainText.Refusal];
        }

        if (r.ExpiresInSeconds is { } s && (s < 60 || s > 3660L * 86400))
        {
            errors["expires_in_seconds"] = ["expires_in_seconds must be between 60 and ten years."];
        }

        return (errors, r with { Url = url, ImageUrl = imageUrl, DesktopUrl = desktopUrl, IosUrl = iosUrl, AndroidUrl = androidUrl });
    }
}
