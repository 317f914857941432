using System.Security.Cryptography;
using System.Text;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Server.Features;

/// <summary>The wallets this hub is built with. Adding a wallet is its connector folder, its sandbox folder and one line here.</summary>
public static class Wallets
{
    public static IReadOnlyList<IWalletModule> Builtin { get; } = [new WeChatPayModule(), new AlipayModule(), new UnionPayModule()];
}

/// <summary>
/// The wallet modules of this hub (the built-in ones and any a host added before building), in registration order,
/// for the code that would otherwise name wallets: channel validation, buyer pages, app detection, fees.
/// </summary>
public sealed class WalletCatalog
{
    private readonly Dictionary<string, IWalletModule> _byName;

    public WalletCatalog(IEnumerable<IWalletModule> modules)
    {
        All = modules.ToList();
        _byName = All.ToDictionary(m => m.Name, StringComparer.Ordinal); // a duplicate name is a wiring mistake: fail at start
        // Not on the "pay another way" buttons, which keep their plain outline (hutong.css).
        Css = string.Concat(All.Select(m => $".wallets:not(.switch) button.{m.Name} {{ background: {m.Display.Colour}; }}\n"));
        CssUrl = $"/assets/wallets.css?v={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Css)))[..12]}";
    }

    public IReadOnlyList<IWalletModule> All { get; }

    public IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>The pay buttons' colours, one rule per wallet (served as a file: the pages' CSP forbids inline style).</summary>
    public string Css { get; }

    public string CssUrl { get; }

    public IWalletModule? Find(string? wallet) => wallet is not null && _byName.TryGetValue(wallet, out var m) ? m : null;

    /// <summary>"wechatpay, alipay or unionpay", for problem texts.</summary>
    public string Describe() => All.Count switch
    {
        0 => "none",
        1 => All[0].Name,
        _ => $"{string.Join(", ", All.Take(All.Count - 1).Select(m => m.Name))} or {All[^1].Name}",
    };

    /// <summary>The wallet whose app is scanning, from its in-app browser's User-Agent; null for anything else.</summary>
    public string? DetectApp(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? null : All.FirstOrDefault(m => m.Display.IsApp(userAgent))?.Name;

    public static void MapCss(IEndpointRouteBuilder app) =>
        app.MapGet("/assets/wallets.css", (HttpContext ctx, WalletCatalog wallets) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Text(wallets.Css, "text/css; charset=utf-8");
        }).ExcludeFromDescription();
}
