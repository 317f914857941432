using System.Text.RegularExpressions;
using Hutong.Server;
using Hutong.Server.Storage;

namespace Hutong.Architecture.Tests;

/// <summary>
/// A rolling upgrade runs the previous version's hubs against the schema the new version migrated (docs/operations.md,
/// "Rolling a new version"). So a migration may only expand: add tables, nullable columns, columns with a default,
/// indexes, triggers. Anything the previous version's SQL could trip over — a dropped or renamed table or column, a
/// changed type, a new NOT NULL without a default, a new CHECK — must wait for the release after the one that stopped
/// using it, and says so in a line <c>-- contract step: …</c> that this rule then lets through.
/// </summary>
public partial class MigrationCompatibilityTests
{
    public static TheoryData<string> Migrations() =>
        [.. typeof(HubApp).Assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).Order()];

    [Theory]
    [MemberData(nameof(Migrations))]
    public void Every_migration_only_expands_the_schema(string resource)
    {
        using var s = typeof(HubApp).Assembly.GetManifestResourceStream(resource)!;
        var sql = new StreamReader(s).ReadToEnd();
        // Both dialects' sections are checked.
        Assert.Empty(Breaking(Migrator.ForDialect(sql, postgres: true)));
        Assert.Empty(Breaking(Migrator.ForDialect(sql, postgres: false)));
    }

    [Theory]
    [InlineData("ALTER TABLE payments DROP COLUMN buyer_id;")]
    [InlineData("DROP TABLE refunds;")]
    [InlineData("ALTER TABLE payments RENAME COLUMN buyer_id TO payer_id;")]
    [InlineData("ALTER TABLE payments RENAME TO orders;")]
    [InlineData("ALTER TABLE payments ALTER COLUMN amount TYPE NUMERIC;")]
    [InlineData("ALTER TABLE payments ALTER COLUMN buyer_id SET NOT NULL;")]
    [InlineData("ALTER TABLE payments ADD COLUMN tier TEXT NOT NULL;")]
    [InlineData("ALTER TABLE payments ADD CONSTRAINT amount_small CHECK (amount < 100);")]
    [InlineData("alter table payments\n  drop column buyer_id;")]
    public void The_rule_catches_what_would_break_the_previous_version(string sql) => Assert.NotEmpty(Breaking(sql));

    [Theory]
    [InlineData("ALTER TABLE payments ADD COLUMN tier TEXT;")]
    [InlineData("ALTER TABLE payments ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;")]
    [InlineData("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0));")]
    [InlineData("CREATE INDEX ix ON payments (buyer_id);")]
    [InlineData("DROP INDEX IF EXISTS ix_old;")]
    [InlineData("-- contract step: 0014 stopped reading buyer_id (released in 1.4)\nALTER TABLE payments DROP COLUMN buyer_id;")]
    public void The_rule_lets_expanding_and_declared_contract_steps_through(string sql) => Assert.Empty(Breaking(sql));

    /// <summary>The statements of <paramref name="sql"/> the previous version could break on, unless declared.</summary>
    private static List<string> Breaking(string sql)
    {
        if (sql.Contains("-- contract step:", StringComparison.Ordinal))
        {
            return [];
        }

        var code = LineComment().Replace(sql, string.Empty);
        return code.Split(';').Select(st => Whitespace().Replace(st, " ").Trim()).Where(st => st.Length > 0)
            .Where(st => Destructive().IsMatch(st) || AddsRequiredColumn(st) || AddsCheckToExistingTable(st))
            .ToList();
    }

    private static bool AddsRequiredColumn(string st) =>
        AddColumn().IsMatch(st) && st.Contains("NOT NULL", StringComparison.OrdinalIgnoreCase)
        && !st.Contains("DEFAULT", StringComparison.OrdinalIgnoreCase);

    private static bool AddsCheckToExistingTable(string st) =>
        st.StartsWith("ALTER TABLE", StringComparison.OrdinalIgnoreCase) && st.Contains(" CHECK", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"--[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\bDROP\s+(TABLE|COLUMN)\b|\bALTER\s+TABLE\s+\S+\s+DROP\s+(?!CONSTRAINT)\w+|\bRENAME\b|\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b|\bSET\s+NOT\s+NULL\b", RegexOptions.IgnoreCase)]
    private static partial Regex Destructive();

    [GeneratedRegex(@"^ALTER\s+TABLE\s+\S+\s+ADD\s+(COLUMN\s+)?", RegexOptions.IgnoreCase)]
    private static partial Regex AddColumn();
}
