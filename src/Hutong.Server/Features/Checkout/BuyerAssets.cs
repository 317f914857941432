using System.Security.Cryptography;
using System.Text;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// The buyer pages' stylesheet and scripts, served as files so the pages' Content-Security-Policy can forbid inline
/// script and style (an injected &lt;script&gt; then does not run). Each URL carries a hash of its content, so the files
/// can be cached for a year and a new version is fetched at once.
/// </summary>
public static class BuyerAssets
{
    private const string Css = """
        body { font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; background: #f2f2f2; color: #1a1a1a; margin: 0; padding: 0 .5rem; }
        main { max-width: 28rem; margin: 1.5rem auto; background: #fff; border-radius: .75rem; padding: 1.5rem; text-align: center; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
        main > :first-child { margin-top: 0; }
        nav.lang { text-align: right; font-size: .85rem; max-width: 28rem; margin: .5rem auto 0; }
        a { color: #0b4fb3; }
        .merchant, .desc, .hint { color: #3d3d3d; }
        .merchant { margin: 0; }
        .amount { font-size: 2.4rem; margin: .4rem 0; }
        .asker { background: #fff7e6; color: #5c3b00; border-radius: .4rem; padding: .6rem; }
        .status { font-weight: 600; padding: .5rem; border-radius: .4rem; }
        .status.ok { background: #e6f7ee; color: #05603a; }
        .status.bad { background: #fdecea; color: #8a1c12; }
        .status.wait { background: #eef3fb; color: #1d3f73; }
        .qr img { image-rendering: pixelated; max-width: 100%; height: auto; }
        .hint { font-size: .9rem; }
        figure { margin: 1rem 0; }
        p, figcaption { text-wrap: pretty; }
        h1, h2 { text-wrap: balance; }
        .shopnav a { white-space: nowrap; }
        .id { display: inline-block; overflow-wrap: anywhere; }
        .wallets button, .button { display: block; box-sizing: border-box; width: 100%; margin: .5rem 0; padding: .8rem; font-size: 1rem; border: 0; border-radius: .4rem;
                   background: #067a3e; color: #fff; cursor: pointer; text-decoration: none; }
        .wallets.switch button { background: #fff; color: #1d3f73; border: 1px solid #1d3f73; font-size: .9rem; padding: .5rem; }
        .secondary { background: #fff !important; color: #1d3f73 !important; border: 1px solid #1d3f73 !important; }
        button:focus-visible, a:focus-visible, input:focus-visible, textarea:focus-visible { outline: 3px solid #1d3f73; outline-offset: 2px; }
        label { display: block; text-align: left; margin: .6rem 0 .2rem; font-weight: 600; }
        input[type=text], textarea { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #6b6b6b; border-radius: .3rem; }
        [hidden] { display: none !important; }
        .share { overflow-wrap: anywhere; background: #f6f6f6; padding: .6rem; border-radius: .3rem; text-align: left; margin-bottom: .4rem; }
        .nowrap { white-space: nowrap; }
        .copy-row { margin: 0 0 .6rem; }
        .copy-row .button { margin: 0 0 .2rem; }
        .tag { color: #3d3d3d; font-size: .8rem; }
        .order { color: #3d3d3d; font-size: .9rem; overflow-wrap: anywhere; }
        ul.links { list-style: none; padding: 0; text-align: left; }
        ul.links li { border-top: 1px solid #ddd; padding: .6rem 0; }
        ul.links img, section img { display: block; margin: .6rem auto; }
        h2 { font-size: 1.15rem; }
        """;

    /// <summary>Polls the page's status URL (the script tag's data-status-url) and reloads when what this browser should see changes.</summary>
    private const string LiveJs = """
        (() => {
          const statusUrl = document.currentScript.dataset.statusUrl;
          const el = document.getElementById('status');
          const cd = document.getElementById('countdown');
          let left = cd ? Number(cd.dataset.seconds) : 0;
          const tick = () => { if (!cd) return; left = Math.max(0, left - 1); cd.textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0'); };
          const poll = async () => {
            try {
              const r = await fetch(statusUrl, { cache: 'no-store' });
              if (r.ok) { const s = await r.json(); if (s.view !== el.dataset.view) { location.reload(); return; } }
            } catch { }
            setTimeout(poll, 1000);
          };
          if (!['succeeded', 'canceled', 'expired'].includes(el.dataset.status) || el.dataset.view.includes('|claimed')) { setInterval(tick, 1000); setTimeout(poll, 1000); }
        })();
        """;

    /// <summary>The aggregated QR's in-app page: continues to the wallet at once (a POST), as a tap on its button would.</summary>
    private const string ContinueJs = """
        (() => { const f = document.getElementById('continue'); if (f) { f.requestSubmit ? f.requestSubmit() : f.submit(); } })();
        """;

    /// <summary>
    /// Copy buttons (<see cref="BuyerUi.CopyButton"/>): shown only when this runs, copy the target's text, and say so in
    /// the status next to them. Falls back to selecting the text where the Clipboard API is missing (a non-secure origin).
    /// </summary>
    private const string CopyJs = """
        (() => {
          const select = (el) => { const r = document.createRange(); r.selectNodeContents(el); const s = getSelection(); s.removeAllRanges(); s.addRange(r); };
          for (const b of document.querySelectorAll('button[data-copy]')) {
            const target = document.getElementById(b.dataset.copy);
            const status = document.getElementById(b.id + '-status');
            if (!target) continue;
            b.hidden = false;
            b.addEventListener('click', async () => {
              const text = target.textContent.trim();
              let ok = false;
              try { if (navigator.clipboard) { await navigator.clipboard.writeText(text); ok = true; } } catch { }
              if (!ok) { select(target); try { ok = document.execCommand('copy'); } catch { } }
              if (status) status.textContent = ok ? b.dataset.done : b.dataset.failed;
            });
          }
        })();
        """;

    public static readonly string CssUrl = Versioned("/assets/hutong.css", Css);
    public static readonly string LiveJsUrl = Versioned("/assets/live.js", LiveJs);
    public static readonly string ContinueJsUrl = Versioned("/assets/continue.js", ContinueJs);
    public static readonly string CopyJsUrl = Versioned("/assets/copy.js", CopyJs);

    public static void Map(IEndpointRouteBuilder app)
    {
        Serve(app, "/assets/hutong.css", Css, "text/css; charset=utf-8");
        Serve(app, "/assets/live.js", LiveJs, "text/javascript; charset=utf-8");
        Serve(app, "/assets/continue.js", ContinueJs, "text/javascript; charset=utf-8");
        Serve(app, "/assets/copy.js", CopyJs, "text/javascript; charset=utf-8");
    }

    private static void Serve(IEndpointRouteBuilder app, string path, string content, string contentType)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        app.MapGet(path, (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Bytes(bytes, contentType);
        }).ExcludeFromDescription();
    }

    private static string Versioned(string path, string content) =>
        $"{path}?v={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..12]}";
}
