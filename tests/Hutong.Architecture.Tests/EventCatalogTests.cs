using System.Text.RegularExpressions;
using Hutong.Server.Features.Webhooks;

namespace Hutong.Architecture.Tests;

/// <summary>
/// Every event type the hub's code puts in the outbox is in <see cref="EventCatalog"/>, which a webhook endpoint's
/// enabled_events is checked against: a new Outbox.AddAsync / Outbox.Prepare type (or a dispute change's event) that is
/// not listed fails here, before a merchant could be refused a subscription to it. A literal is looked up as is; a
/// literal that starts a concatenation ("payment." + status) must prefix at least one catalogue entry.
/// </summary>
public partial class EventCatalogTests
{
    [Fact]
    public void Every_event_type_in_the_code_is_in_the_catalogue()
    {
        var found = EmittedTypes(SourceFiles()).ToList();
        Assert.True(found.Count >= 20, $"only {found.Count} emitted event types found: is the scan still matching the outbox calls?\n{string.Join('\n', found)}");
        var missing = found.Where(f => f.IsPrefix
                ? !EventCatalog.Types.Any(t => t.StartsWith(f.Type, StringComparison.Ordinal) && t.Length > f.Type.Length)
                : !EventCatalog.Types.Contains(f.Type))
            .Select(f => $"{f.Where}: {f.Type}{(f.IsPrefix ? "…" : string.Empty)}")
            .ToList();
        Assert.True(missing.Count == 0, "add these to EventCatalog.Types:\n" + string.Join('\n', missing));
    }

    [Theory]
    [InlineData("""await Outbox.AddAsync(c, t, m, "widget.exploded", dto, now);""", "widget.exploded", false)]
    [InlineData("""await Outbox.AddAsync(c, t, m, "widget." + w.Status, dto, now);""", "widget.", true)]
    [InlineData("""var e = Outbox.Prepare(m, "widget.made", dto, now);""", "widget.made", false)]
    [InlineData("""return new DisputeChange(next, "widget.changed");""", "widget.changed", false)]
    [InlineData("""await Outbox.AddAsync(c, t, m, ok ? "widget.done" : "widget.failed", dto, now);""", "widget.failed", false)]
    public void The_scan_finds_literal_and_prefixed_types(string line, string type, bool prefix)
    {
        Assert.Contains(EmittedTypes([("Example.cs", line)]), f => f.Type == type && f.IsPrefix == prefix);
        Assert.False(EventCatalog.Types.Contains(type), type);
    }

    private static IEnumerable<(string Where, string Type, bool IsPrefix)> EmittedTypes(IEnumerable<(string Path, string Text)> files) =>
        from f in files
        from call in EmitCall().Matches(f.Text)
        from lit in TypeLiteral().Matches(call.Value)
        select ($"{f.Path}:{f.Text[..call.Index].Count(ch => ch == '\n') + 1}", lit.Groups["type"].Value, lit.Groups["plus"].Success);

    private static IEnumerable<(string Path, string Text)> SourceFiles()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hutong.slnx")))
        {
            dir = dir.Parent;
        }

        var root = dir?.FullName ?? throw new InvalidOperationException("Hutong.slnx not found above the test's directory.");
        return new[] { "Hutong.Server", "Hutong.Domain" }
            .SelectMany(p => Directory.EnumerateFiles(Path.Combine(root, "src", p), "*.cs", SearchOption.AllDirectories))
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(p => (Path.GetRelativePath(root, p), File.ReadAllText(p)))
            .ToList();
    }

    // An outbox call or a dispute change, up to the end of its statement.
    [GeneratedRegex("""(?:\bOutbox\.(?:AddAsync|Prepare)|\bnew DisputeChange)\([^;]*;""")]
    private static partial Regex EmitCall();

    // A "family.name" literal (or "family." / "family.prefix_" followed by +): event types are lower-case dotted words.
    [GeneratedRegex("""(?<![\w$])"(?<type>[a-z][a-z_]*\.[a-z_]*)"(?<plus>\s*\+)?""")]
    private static partial Regex TypeLiteral();
}
