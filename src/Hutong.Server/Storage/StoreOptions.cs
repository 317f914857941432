namespace Hutong.Server.Storage;

public enum StoreProvider
{
    Sqlite,
    Postgres,
}

public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>sqlite (embedded default) or postgres (production).</summary>
    public StoreProvider Provider { get; set; } = StoreProvider.Sqlite;

    /// <summary>For SQLite a file path data source; for PostgreSQL an Npgsql connection string.</summary>
    public string ConnectionString { get; set; } = "Data Source=.data/hutong.db";

    public int MaxPoolSize { get; set; } = 80;

    /// <summary>PostgreSQL: transactions that commit groups of concurrent statement-only writes (creates) at once.</summary>
    public int PostgresWriters { get; set; } = 2;
}
