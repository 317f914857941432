using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>
/// Watches a page's requests so a wait that times out says why: the URL, the document's readyState and every request
/// still in flight. The load wait polls <c>document.readyState</c> itself rather than relying on Playwright's lifecycle
/// event, which was seen to hang after a click-driven navigation on a loaded CI box while the page had finished.
/// </summary>
public sealed class PageWatch
{
    private readonly IPage _page;
    private readonly ConcurrentDictionary<IRequest, DateTimeOffset> _inFlight = new();
    private readonly ConcurrentQueue<string> _failed = new();

    public PageWatch(IPage page)
    {
        _page = page;
        page.Request += (_, r) => _inFlight[r] = DateTimeOffset.UtcNow;
        page.RequestFinished += (_, r) => _inFlight.TryRemove(r, out DateTimeOffset _);
        page.RequestFailed += (_, r) =>
        {
            _inFlight.TryRemove(r, out DateTimeOffset _);
            _failed.Enqueue($"{r.Method} {r.Url}: {r.Failure}");
        };
    }

    /// <summary>Waits until the current document has loaded (readyState complete), at most <paramref name="timeout"/>.</summary>
    public async Task LoadedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        string? state = null;
        while (DateTimeOffset.UtcNow < deadline)
        {
            try
            {
                state = await _page.EvaluateAsync<string>("() => document.readyState").WaitAsync(TimeSpan.FromSeconds(5));
                if (state == "complete")
                {
                    return;
                }
            }
            catch (PlaywrightException e) when (e.Message.Contains("navigat", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("destroyed", StringComparison.OrdinalIgnoreCase))
            {
                state = "navigating"; // the context went away mid-evaluation: a new document is on its way
            }
            catch (TimeoutException)
            {
                state = "no answer from the page in 5 s";
            }

            await Task.Delay(100);
        }

        var now = DateTimeOffset.UtcNow;
        var pending = string.Join("; ", _inFlight.Select(kv => $"{kv.Key.Method} {kv.Key.Url} ({(now - kv.Value).TotalSeconds:0.0} s)"));
        throw new TimeoutException(
            $"{_page.Url} did not finish loading (readyState: {state ?? "unknown"}); requests in flight: [{pending}]; failed: [{string.Join("; ", _failed)}]");
    }
}
