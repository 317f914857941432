using System.Security.Cryptography;
using System.Text;
using Hutong.Domain;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// The browser a buyer or friend pays from, as a random HttpOnly cookie. Only its SHA-256 is stored (as the payment's
/// payer claim), so a database reader cannot impersonate a payer. No account is needed.
/// </summary>
public static class PayerSession
{
    public const string Cookie = "hutong_payer";

    /// <summary>The session hash for this browser, creating the cookie on first use.</summary>
    public static string Of(HttpContext ctx)
    {
        var value = ctx.Request.Cookies[Cookie];
        if (value is null || value.Length is < 32 or > 64)
        {
            value = Ids.Token();
            ctx.Response.Cookies.Append(Cookie, value, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                Secure = ctx.Request.IsHttps,
                IsEssential = true,
                MaxAge = TimeSpan.FromDays(1),
                Path = "/",
            });
        }

        return Hash(value);
    }

    /// <summary>The hash for this browser if it has a session already; null otherwise (never sets a cookie).</summary>
    public static string? Existing(HttpContext ctx) =>
        ctx.Request.Cookies[Cookie] is { Length: >= 32 and <= 64 } v ? Hash(v) : null;

    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
