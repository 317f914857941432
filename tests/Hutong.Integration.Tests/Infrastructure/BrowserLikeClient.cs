using System.Net;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>One person's browser over plain HTTP: its own cookies (the payer session), a desktop User-Agent, no auto-redirects.</summary>
public sealed class BrowserLikeClient : IDisposable
{
    public const string DesktopUa = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

    public BrowserLikeClient(string baseUrl, string userAgent = DesktopUa)
    {
        Http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(baseUrl) };
        Http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", userAgent); // real in-app UAs do not parse as product tokens
        Http.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
    }

    public HttpClient Http { get; }

    public async Task<(HttpStatusCode Status, string Html)> PageAsync(string path)
    {
        using var r = await Http.GetAsync(path);
        return (r.StatusCode, WebUtility.HtmlDecode(await r.Content.ReadAsStringAsync()));
    }

    /// <summary>Submits a form (by POST) and returns the redirect target, or the status when there is none.</summary>
    public async Task<(HttpStatusCode Status, string? Location)> SubmitAsync(string path, IDictionary<string, string>? form = null)
    {
        using var r = await Http.PostAsync(path, form is null ? null : new FormUrlEncodedContent(form));
        return (r.StatusCode, r.Headers.Location?.ToString());
    }

    public void Dispose() => Http.Dispose();
}
