using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>Debian's Chromium driven by Playwright (no browser download: executablePath).</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hutong.slnx")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Hutong.slnx).");
        }
    }

    /// <summary>jsQR, installed by scripts/test-deps.sh into tests/e2e, decodes the QR inside the page.</summary>
    public static string JsQrPath => Path.Combine(RepoRoot, "tests", "e2e", "node_modules", "jsqr", "dist", "jsQR.js");

    public static string ArtifactsDir
    {
        get
        {
            var dir = Path.Combine(RepoRoot, "artifacts", "screenshots");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>
    /// Saves a full-page screenshot: an artifact for people, never asserted on. A busy Chromium may answer "Unable to
    /// capture screenshot" for a page it has rendered (seen once in a CI run, on a console page whose checks all passed);
    /// a try a moment later gets it.
    /// </summary>
    public static async Task ScreenshotAsync(IPage page, string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
                return;
            }
            catch (PlaywrightException e) when (attempt < 3 && e.Message.Contains("Unable to capture screenshot", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt));
            }
        }
    }

    /// <summary>
    /// Waits until the page is at a URL that <paramref name="url"/> matches and its document is parsed
    /// (<c>readyState</c> past <c>loading</c>). Both waits poll inside the browser. Not <c>WaitForURLAsync</c> with a
    /// <c>WaitUntil</c>, nor <c>WaitForLoadStateAsync</c>: those read the client's own record of the frame's load events,
    /// and in CI runs that record lacked DOMContentLoaded for a page whose Load and NetworkIdle had fired, so the wait ran
    /// out its 90 s on a loaded page (the demo pages' test, then a console sign-in).
    /// </summary>
    public static async Task ArrivedAsync(IPage page, Regex url)
    {
        await Assertions.Expect(page).ToHaveURLAsync(url, new() { Timeout = 90_000 });
        await page.WaitForFunctionAsync("() => document.readyState !== 'loading'", null, new() { Timeout = 90_000 });
    }

    /// <summary><see cref="ArrivedAsync"/> for one exact URL.</summary>
    public static Task ArrivedAsync(IPage page, string exactUrl) => ArrivedAsync(page, new Regex("^" + Regex.Escape(exactUrl) + "$"));

    /// <summary>Waits for the page's load event (<c>readyState</c> complete), polled in the browser: see <see cref="ArrivedAsync(IPage, Regex)"/>.</summary>
    public static async Task LoadedAsync(IPage page) =>
        await page.WaitForFunctionAsync("() => document.readyState === 'complete'", null, new() { Timeout = 90_000 });

    /// <summary>Reads the QR in the page's img#qr from its pixels with jsQR, as a phone camera would.</summary>
    public static async Task<string> DecodeQrAsync(IPage page)
    {
        await AddLibraryAsync(page, JsQrPath);
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('qr'); return i && i.complete && i.naturalWidth > 0; }");
        return await page.EvaluateAsync<string>("""
            () => {
              const img = document.getElementById('qr');
              const c = document.createElement('canvas');
              c.width = img.naturalWidth; c.height = img.naturalHeight;
              const ctx = c.getContext('2d');
              ctx.drawImage(img, 0, 0);
              const code = jsQR(ctx.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
              return code ? code.data : null;
            }
            """);
    }

    /// <summary>
    /// Loads a test library into the page as the test's own evaluation: a &lt;script&gt; tag added to the page would be
    /// (rightly) refused by the hub's Content-Security-Policy, and the pages are tested under that policy.
    /// </summary>
    public static async Task AddLibraryAsync(IPage page, string path) =>
        await page.EvaluateAsync("() => {\n" + await File.ReadAllTextAsync(path) + "\n}");

    public async Task InitializeAsync()
    {
        await E2eModules.EnsureInstalledAsync(); // jsQR and axe-core are injected into the pages
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("HUTONG_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
    }
}
