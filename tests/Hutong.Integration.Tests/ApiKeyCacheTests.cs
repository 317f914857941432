using System.Security.Cryptography;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>Anyone can present made-up API keys; remembering them must not cost memory without bound.</summary>
public sealed class ApiKeyCacheTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-keys-");

    [Fact]
    public async Task Made_up_keys_do_not_grow_the_key_cache_past_its_bound_and_real_keys_still_authenticate()
    {
        await using var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(_dir.FullName, "keys.db")}" });
        await Migrator.MigrateAsync(db, default);
        var store = new MerchantStore(db, TimeProvider.System, cacheSize: 100);
        var (merchant, key) = await store.CreateMerchantAsync("互通茶庄", default);
        Assert.Equal(new AuthenticatedKey(key.Id, merchant.Id), await store.AuthenticateKeyAsync(key.Secret, default));

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Null(await store.AuthenticateKeyAsync(MerchantStore.KeyPrefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)), default));
        }

        Assert.InRange(store.CachedKeys, 1, 100);
        Assert.Equal(new AuthenticatedKey(key.Id, merchant.Id), await store.AuthenticateKeyAsync(key.Secret, default));
        Assert.Equal(merchant.Id, await store.AuthenticateAsync(key.Secret, default));
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
