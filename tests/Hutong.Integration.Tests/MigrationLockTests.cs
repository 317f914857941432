using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>Several hubs starting together on one PostgreSQL: migrations run one migrator at a time.</summary>
public sealed class MigrationLockTests
{
    [Fact]
    public async Task Two_hubs_migrating_one_fresh_database_at_once_apply_each_migration_once()
    {
        // The race is between two first statements on an empty database; a few fresh databases make it show reliably.
        for (var round = 0; round < 5; round++)
        {
            var name = "hutong_mig_" + Guid.NewGuid().ToString("N")[..10];
            var cs = await PostgresHub.CreateDatabaseAsync(name);
            try
            {
                await using var first = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = cs });
                await using var second = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = cs });
                using var go = new ManualResetEventSlim();
                var a = Task.Run(async () => { go.Wait(); return await Migrator.MigrateAsync(first, default); });
                var b = Task.Run(async () => { go.Wait(); return await Migrator.MigrateAsync(second, default); });
                go.Set();
                var applied = (await Task.WhenAll(a, b)).SelectMany(v => v).ToList();

                Assert.Equal(Migrator.Versions.Order(StringComparer.Ordinal), applied.Order(StringComparer.Ordinal)); // each once, by one of them
                Assert.Equal(Migrator.Versions.Count, await first.ReadAsync(c => c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_migrations"), default));
            }
            finally
            {
                await PostgresHub.DropDatabaseAsync(name);
            }
        }
    }
}
