namespace Hutong.Server.Features.Console.Pages;

/// <summary>The merchant's newest links with their clicks per platform (a chart and a table) and their share codes' resolves.</summary>
[Requires(ConsolePermission.OperationsRead)]
public sealed class LinksModel(ConsoleOpsQueries queries) : ConsoleOpsPageModel
{
    public sealed record LinkSummary(string Id, string MerchantId, string Code, string Title, string Status, long CreatedAt, long ShareCodes, long Resolves,
        IReadOnlyDictionary<string, long> Clicks);

    public override string Title => L.T("链接与口令", "Links and share codes");

    public IReadOnlyList<LinkSummary> Links { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken ct) => Links = (await queries.LinksAsync(MerchantId, ct))
        .GroupBy(r => r.Id)
        .Select(g => new LinkSummary(g.Key, g.First().MerchantId, g.First().Code, g.First().Title, g.First().Status, g.First().CreatedAt, g.First().ShareCodes, g.First().Resolves,
            g.Where(r => r.Platform is not null).ToDictionary(r => r.Platform!, r => r.Clicks ?? 0, StringComparer.Ordinal)))
        .ToList();
}
