using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Hutong.Server.Http;

/// <summary>
/// Security headers on every response. The pages hold capability tokens in their URLs and pay buttons, so: no inline
/// script or style (the buyer pages load theirs from /assets), nothing may frame them (clickjacking the pay buttons),
/// no MIME sniffing, and no Referer (it would carry the token to the next site). A response may set its own
/// Content-Security-Policy (the reconciliation report allows its one hashed stylesheet).
/// </summary>
public static partial class SecurityHeaders
{
    public const string Policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; frame-ancestors 'none'";

    /// <summary>What the console's pages add to their policy (see <see cref="UseSecurityHeaders"/>).</summary>
    public const string ConsoleFormAction = "form-action 'self'";

    private const string ConsolePath = "/console";

    /// <summary>Scalar's API reference is a script application: its own files, and its one inline start-up script by hash.</summary>
    private const string ScalarPath = "/scalar";

    /// <summary>The Scalar page is a few kB; anything larger is passed on untouched rather than buffered.</summary>
    private const int MaxScalarPage = 256 * 1024;

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var scalar = ctx.Request.Path.StartsWithSegments(ScalarPath, StringComparison.OrdinalIgnoreCase);
        var console = ctx.Request.Path.StartsWithSegments(ConsolePath, StringComparison.OrdinalIgnoreCase);
        // The cashier and friend-pay pages (and their QR images) show an order's amount, item and pay codes under a
        // capability URL: not for the browser's history cache or any shared cache, as /l/ and /console/ already say.
        // The API's answers carry secrets (a new API key, a webhook endpoint's signing secret) and merchants' orders:
        // no cache of any client or proxy keeps them either (as Stripe's API answers say).
        var noStore = ctx.Request.Path.StartsWithSegments("/pay", StringComparison.OrdinalIgnoreCase)
            || ctx.Request.Path.StartsWithSegments("/f", StringComparison.OrdinalIgnoreCase)
            || ctx.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase)
            || ctx.Request.Path.StartsWithSegments("/admin", StringComparison.OrdinalIgnoreCase);
        // Set when the response starts, so error pages and rate-limit refusals (which clear the response) get them too.
        ctx.Response.OnStarting(() =>
        {
            var h = ctx.Response.Headers;
            h.XContentTypeOptions = "nosniff";
            h["Referrer-Policy"] = "no-referrer";
            h.XFrameOptions = "DENY"; // for browsers without frame-ancestors
            if (!h.ContainsKey("Content-Security-Policy"))
            {
                h.ContentSecurityPolicy = Policy;
            }

            if (noStore && !h.ContainsKey("Cache-Control"))
            {
                h.CacheControl = "no-store";
            }

            if (console && !h.ContentSecurityPolicy.ToString().Contains("form-action", StringComparison.Ordinal))
            {
                // The console's forms post to the console and redirect within it; an injected form must not send a
                // signed-in operator's fields elsewhere. Not on the buyer pages: their wallet buttons post, then redirect
                // to the wallet's own page, which form-action would block.
                h.ContentSecurityPolicy = h.ContentSecurityPolicy + "; " + ConsoleFormAction;
            }

            return Task.CompletedTask;
        });

        if (!scalar)
        {
            await next(ctx);
            return;
        }

        await ScalarAsync(ctx, next);
    });

    /// <summary>
    /// The default policy, with images also from <paramref name="imageOrigin"/> (an https origin, scheme://host[:port]):
    /// a link's landing page shows the merchant's product image from the merchant's own server.
    /// </summary>
    public static string WithImagesFrom(string imageOrigin) =>
        Policy.Replace("img-src 'self' data:", "img-src 'self' data: " + imageOrigin, StringComparison.Ordinal);

    /// <summary>The CSP for an HTML page whose inline &lt;style&gt; elements are exactly <paramref name="styles"/>.</summary>
    public static string WithStyleHashes(params string[] styles) =>
        Policy.Replace("style-src 'self'", "style-src 'self' " + string.Join(' ', styles.Select(s => $"'sha256-{Hash(s)}'")), StringComparison.Ordinal);

    /// <summary>
    /// Buffers Scalar's HTML page to allow exactly its inline scripts by hash. Its styles are injected by its script at
    /// run time, which only 'unsafe-inline' allows; styles cannot run code.
    /// </summary>
    private static async Task ScalarAsync(HttpContext ctx, RequestDelegate next)
    {
        var original = ctx.Response.Body;
        using var buffer = new MemoryStream();
        ctx.Response.Body = buffer;
        try
        {
            await next(ctx);
        }
        finally
        {
            ctx.Response.Body = original;
        }

        if (ctx.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true && buffer.Length <= MaxScalarPage)
        {
            var html = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            var hashes = InlineScript().Matches(html).Select(m => $"'sha256-{Hash(m.Groups[1].Value)}'");
            ctx.Response.Headers.ContentSecurityPolicy =
                $"default-src 'self'; script-src 'self' {string.Join(' ', hashes)}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                + "font-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";
        }

        buffer.Position = 0;
        await buffer.CopyToAsync(original, ctx.RequestAborted);
    }

    private static string Hash(string s) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(s)));

    [GeneratedRegex("<script(?![^>]*\\bsrc=)[^>]*>(.*?)</script>", RegexOptions.Singleline | RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
    private static partial Regex InlineScript();
}
