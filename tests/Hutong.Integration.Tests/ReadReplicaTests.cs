using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// Store:ConnectionString naming a primary and a streaming replica (the standby first): writes find the primary, lists are
/// read from the standby, a resource read back after its POST comes from the primary, and with the standby down lists come
/// from the primary at once.
/// </summary>
public sealed class ReadReplicaTests(ReplicatedPostgresHub hub) : IClassFixture<ReplicatedPostgresHub>
{
    [Fact]
    public async Task Lists_are_read_from_the_standby_a_created_payment_from_the_primary_and_lists_fall_back_to_the_primary()
    {
        var standby = hub.Standby!;
        await using (var s = new NpgsqlConnection(standby.ConnectionString("hutong")))
        {
            await s.OpenAsync();
            Assert.True(await s.ExecuteScalarAsync<bool>("SELECT pg_is_in_recovery()"), "the fixture's standby is not a standby");
        }

        var (m, _, _) = await hub.NewMerchantAsync(); // written through the primary although the standby is listed first
        var first = await m.CreatePaymentAsync();
        await hub.EventuallyAsync(() => ListedAsync(m), ids => ids.Contains(first), TimeSpan.FromSeconds(10), "the standby replaying the first payment");

        // Replay paused: the standby stops at this point while the primary moves on.
        await using (var s = new NpgsqlConnection(standby.ConnectionString("hutong")))
        {
            await s.OpenAsync();
            await s.ExecuteAsync("SELECT pg_wal_replay_pause()");
            var second = await m.CreatePaymentAsync();

            // Read-your-writes: the payment just created is there by id (the primary)…
            var got = await m.GetAsync($"/v1/payments/{second}");
            Assert.Equal(HttpStatusCode.OK, got.Status);

            // …while the list, from the standby, does not have it yet: the list is served by the standby.
            var listed = await ListedAsync(m);
            Assert.Contains(first, listed);
            Assert.DoesNotContain(second, listed);

            await s.ExecuteAsync("SELECT pg_wal_replay_resume()");
            await hub.EventuallyAsync(() => ListedAsync(m), ids => ids.Contains(second), TimeSpan.FromSeconds(10), "the list after replay resumed");
        }

        // The standby stops: lists come from the primary, on the first try (no request fails meanwhile).
        await standby.StopAsync("fast");
        var third = await m.CreatePaymentAsync();
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains(third, await ListedAsync(m));
        }

        Assert.Equal(HttpStatusCode.OK, (await m.GetAsync("/v1/payments?limit=1")).Status);
        Assert.True(hub.Hub.App.Services.GetRequiredService<Db>().WritersAlive);
    }

    private static async Task<HashSet<string>> ListedAsync(ApiClient m)
    {
        var r = await m.GetAsync("/v1/payments?limit=100");
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        return r.Json.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("id").GetString()!).ToHashSet();
    }
}
