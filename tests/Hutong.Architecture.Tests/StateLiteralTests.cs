using System.Text.RegularExpressions;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Domain.Refunds;
using Hutong.Domain.Splits;

namespace Hutong.Architecture.Tests;

/// <summary>
/// Every state machine is an enum with a transition table, and a flow is a <see cref="PayFlow"/>: the hub's code compares,
/// matches and sets them as enums. Their wire names ("open", "succeeded", "payment_code", …) are the store's and the
/// API's business (ToWire/FromWire, PaymentStore.StoredFlow), so a status or flow compared with a string literal in
/// src/Hutong.Server fails here.
/// </summary>
public partial class StateLiteralTests
{
    private static readonly HashSet<string> StatusNames =
    [
        .. Enum.GetValues<PaymentStatus>().Select(WireName<PaymentStatus>.Of),
        .. Enum.GetValues<AttemptStatus>().Select(WireName<AttemptStatus>.Of),
        .. Enum.GetValues<RefundState>().Select(WireName<RefundState>.Of),
        .. Enum.GetValues<SplitOrderState>().Select(WireName<SplitOrderState>.Of),
        .. Enum.GetValues<SplitReturnState>().Select(WireName<SplitReturnState>.Of),
    ];

    private static readonly HashSet<string> FlowNames = [.. Enum.GetValues<PayFlow>().Select(PayFlows.Wire)];

    [Fact]
    public void No_status_or_flow_is_compared_or_set_as_a_string_literal()
    {
        var found = Offending(SourceFiles());
        Assert.True(found.Count == 0, "use the enums (AttemptStatus, PaymentStatus, RefundState, Split*State, PayFlow):\n" + string.Join('\n', found));
    }

    [Theory]
    [InlineData("""if (current?.Status == "requested")""")]
    [InlineData("""is { Status: "open" or "requested" } attempt""")]
    [InlineData("""Status = "requested",""")]
    [InlineData("""if (attempt.Flow == "payment_code")""")]
    [InlineData("""switch (x) { case { Flow: "jsapi" }: break; }""")]
    [InlineData("""if (status != "succeeded")""")]
    public void The_rule_catches_string_states(string line) => Assert.NotEmpty(Offending([("Example.cs", line)]));

    [Theory]
    [InlineData("""if (current?.State == AttemptStatus.Requested)""")]
    [InlineData("""if (row.Status == "active")""")] // a link's status, no state machine's
    [InlineData("""UPDATE payment_attempts SET status = 'open' WHERE flow = 'payment_code'""")] // SQL at the store edge
    [InlineData("""Status = AttemptStatus.Requested.ToWire(),""")]
    public void The_rule_lets_enums_other_statuses_and_sql_through(string line) => Assert.Empty(Offending([("Example.cs", line)]));

    private static List<string> Offending(IEnumerable<(string Path, string Text)> files) =>
        [.. files.SelectMany(f => f.Text.Split('\n').Select((line, i) => (f.Path, Line: i + 1, Text: line)))
            .Where(l => Compared().Matches(l.Text).Any(m =>
                (m.Groups["flow"].Success ? FlowNames : StatusNames).Contains(m.Groups["value"].Value)))
            .Select(l => $"{l.Path}:{l.Line}: {l.Text.Trim()}")];

    private static IEnumerable<(string Path, string Text)> SourceFiles()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hutong.slnx")))
        {
            dir = dir.Parent;
        }

        var server = Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Hutong.slnx not found above the test's directory."), "src", "Hutong.Server");
        var files = Directory.EnumerateFiles(server, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(p => (Path.GetRelativePath(dir.FullName, p), File.ReadAllText(p)))
            .ToList();
        Assert.True(files.Count > 50, $"only {files.Count} source files found under {server}");
        return files;
    }

    // An identifier ending in Status/State (any case) or Flow, then ==, !=, a property pattern's ':' or an assignment, then a "literal".
    [GeneratedRegex("""\b\w*(?:(?<status>[Ss]tatus|[Ss]tate)|(?<flow>[Ff]low))\s*(?:==|!=|:|(?<![=!<>])=(?!=))\s*(?:not\s+)?"(?<value>[a-z_0-9]+)"(?!\s*\+)""")]
    private static partial Regex Compared();
}
