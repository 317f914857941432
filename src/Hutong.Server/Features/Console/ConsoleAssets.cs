using System.Security.Cryptography;
using System.Text;

namespace Hutong.Server.Features.Console;

/// <summary>The console's stylesheet, served by the hub (no CDN, no inline style: the pages' CSP forbids it). Its URL carries its hash.</summary>
public static class ConsoleAssets
{
    public const string Css = """
        :root { --ink: #1a1a1a; --muted: #4a4a4a; --line: #d0d0d0; --accent: #0b4fb3; --bg: #f4f5f7; }
        * { box-sizing: border-box; }
        body { font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; margin: 0; color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        .skip { position: absolute; left: -999px; } .skip:focus { left: .5rem; top: .5rem; background: #fff; padding: .4rem; }
        header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1rem; background: #13294b; color: #fff; }
        header.top a { color: #fff; }
        header.top .brand { font-weight: 700; text-decoration: none; }
        header.top nav ul { display: flex; flex-wrap: wrap; gap: .2rem 1rem; list-style: none; margin: 0; padding: 0; }
        header.top nav a[aria-current=page] { text-decoration: underline; font-weight: 600; }
        header.top .who { margin-left: auto; display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; font-size: .9rem; }
        header.top button { background: transparent; color: #fff; border: 1px solid #fff; border-radius: .3rem; padding: .2rem .6rem; cursor: pointer; }
        main { max-width: 72rem; margin: 1rem auto; background: #fff; padding: 1rem 1.25rem; border-radius: .5rem; }
        h1 { font-size: 1.4rem; margin-top: 0; } h2 { font-size: 1.1rem; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
        th { background: #eef1f5; }
        .scroll { overflow-x: auto; }
        form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem 1rem; align-items: end; margin-bottom: 1rem; }
        label { display: block; font-weight: 600; font-size: .85rem; margin-bottom: .2rem; }
        input, select { width: 100%; padding: .4rem; font-size: .95rem; border: 1px solid #6b6b6b; border-radius: .3rem; background: #fff; color: var(--ink); }
        button, .button { display: inline-block; padding: .45rem .9rem; font-size: .95rem; border: 0; border-radius: .3rem; background: #0b4fb3; color: #fff; cursor: pointer; text-decoration: none; }
        button.danger { background: #a4161a; } button.plain { background: #fff; color: #0b4fb3; border: 1px solid #0b4fb3; }
        button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f0a202; outline-offset: 2px; }
        .problem { border-left: 4px solid #a4161a; background: #fdecea; color: #5e0b0e; padding: .6rem .8rem; margin-bottom: 1rem; }
        .done { border-left: 4px solid #05603a; background: #e6f7ee; color: #053d25; padding: .6rem .8rem; margin-bottom: 1rem; }
        .muted { color: var(--muted); font-size: .85rem; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; } dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        .actions { display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; } .actions form { margin: 0; }
        .narrow { max-width: 26rem; } .narrow form > div { margin-bottom: .8rem; }
        .inline { display: inline; }
        code, .mono { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
        .pager { margin-top: 1rem; }
        svg.chart { display: block; max-width: 100%; height: auto; margin: .5rem 0; } ul.lines { margin: 0; padding-left: 1rem; }
        """;

    public static readonly string CssPath = "/console/assets/console." + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Css)))[..12] + ".css";
}
