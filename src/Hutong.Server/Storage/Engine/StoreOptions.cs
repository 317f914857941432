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

    /// <summary>
    /// The SQLite file the hub and the <c>hutong</c> CLI use when none is configured: one place per user, whatever the
    /// working directory (a relative default once gave the CLI, run elsewhere, a new empty database of its own).
    /// </summary>
    public static string DefaultSqlitePath =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "hutong", "hutong.db");

    /// <summary>For SQLite a file path data source; for PostgreSQL an Npgsql connection string.</summary>
    public string ConnectionString { get; set; } = $"Data Source={DefaultSqlitePath}";

    /// <summary>Where the data is, for banners and errors: the SQLite file, or PostgreSQL's host, port and database (never the password).</summary>
    public string Describe()
    {
        if (Provider == StoreProvider.Sqlite)
        {
            return $"SQLite {SqlitePath}";
        }

        var b = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL {b.Host}:{b.Port}/{b.Database}";
    }

    /// <summary>The SQLite file, as an absolute path.</summary>
    public string SqlitePath => Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString).DataSource);

    public int MaxPoolSize { get; set; } = 80;

    /// <summary>
    /// PostgreSQL: where the cache listener LISTENs, if not <see cref="ConnectionString"/>. LISTEN needs a session of its own,
    /// so behind PgBouncer in transaction mode point this at PostgreSQL directly (or a session-mode pool).
    /// </summary>
    public string? ListenerConnectionString { get; set; }

    /// <summary>PostgreSQL: transactions that commit groups of concurrent statement-only writes (creates) at once.</summary>
    public int PostgresWriters { get; set; } = 2;
}
