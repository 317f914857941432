using System.Text;
using System.Web;
using Microsoft.AspNetCore.Http;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// Reads a gateway request the way Alipay does: the parameters come from the query string and the form body, and their
/// percent-encoded bytes mean text in the charset the request names (utf-8, gbk or gb2312; the SDKs put charset in the
/// query string, some clients in the body). ASP.NET's form reader would decode them as UTF-8 whatever the label says, so
/// the raw pairs are decoded here once the charset is known.
/// </summary>
internal sealed record AlipayCharset(string Name, Encoding Encoding);

internal static class AlipayGatewayRequest
{
    /// <summary>Form bodies read at most: a gateway request is a few KiB (biz_content included).</summary>
    private const int MaxBodyBytes = 256 * 1024;

    static AlipayGatewayRequest() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>
    /// The parameters, and the charset (its name as answers label it: .NET calls code page 936 "gb2312" whichever was
    /// asked for), or null when the request names none or one Alipay does not take.
    /// </summary>
    public static async Task<(Dictionary<string, string> Parameters, AlipayCharset? Charset)> ReadAsync(HttpContext ctx)
    {
        var raw = new List<(string Key, string Value)>();
        Split(ctx.Request.QueryString.HasValue ? ctx.Request.QueryString.Value![1..] : string.Empty, raw);
        if (ctx.Request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            Split(Encoding.Latin1.GetString(await ReadBoundedAsync(ctx)), raw); // byte for byte: %XX and raw bytes decode below
        }
        else if (ctx.Request.HasFormContentType)
        {
            foreach (var (k, v) in await ctx.Request.ReadFormAsync(ctx.RequestAborted))
            {
                raw.Add((HttpUtility.UrlEncode(k), HttpUtility.UrlEncode(v.ToString()))); // multipart: already text
            }
        }

        var named = raw.Where(r => HttpUtility.UrlDecode(r.Key, Encoding.ASCII) == "charset").Select(r => HttpUtility.UrlDecode(r.Value, Encoding.ASCII)).LastOrDefault();
        var charset = named?.Trim().ToLowerInvariant() switch
        {
            "utf-8" or "utf8" => new AlipayCharset("utf-8", Encoding.UTF8),
            "gbk" => new AlipayCharset("GBK", Encoding.GetEncoding("GBK")),
            "gb2312" => new AlipayCharset("GB2312", Encoding.GetEncoding("GB2312")),
            _ => null,
        };

        var p = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in raw)
        {
            // Undecodable text (GBK bytes read as UTF-8) becomes U+FFFD, so the signature check fails as at Alipay.
            p[HttpUtility.UrlDecode(k, charset?.Encoding ?? Encoding.UTF8)] = HttpUtility.UrlDecode(v, charset?.Encoding ?? Encoding.UTF8);
        }

        return (p, charset);
    }

    private static void Split(string text, List<(string, string)> into)
    {
        foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            into.Add(eq < 0 ? (pair, string.Empty) : (pair[..eq], pair[(eq + 1)..]));
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContext ctx)
    {
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
        {
            if (body.Length + n > MaxBodyBytes)
            {
                throw new BadHttpRequestException("request body too large", StatusCodes.Status413PayloadTooLarge);
            }

            body.Write(buffer, 0, n);
        }

        return body.ToArray();
    }
}
