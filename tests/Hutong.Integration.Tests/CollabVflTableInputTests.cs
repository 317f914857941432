using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// POST /admin/collab/vfl/tables with a NUL in the table's name (?name=a%00b) or in an id was a 500 on PostgreSQL
/// (22021; found by a black-box probe): now a 400 naming name, a 422 bad_id, and no table stored, on both stores.
/// </summary>
public abstract class CollabVflTableInputTests(HubFixture hub)
{
    private const string Csv = "id,f1,y\n1,0.5,1\n2,0.7,0\n3,0.1,1\n";

    private Task<long> TablesAsync() => hub.CountAsync("SELECT COUNT(*) FROM collab_vfl_tables");

    [Fact]
    public async Task A_NUL_in_the_name_or_an_id_is_refused_and_stores_nothing()
    {
        var admin = hub.Admin();
        var before = await TablesAsync();

        var r = await admin.PostAsync("/admin/collab/vfl/tables?name=a%00b&label_column=y", rawBody: Csv, contentType: "text/csv");
        Assert.True(r.Status == HttpStatusCode.BadRequest, $"{r}\n{hub.RecentProblems()}");
        Assert.Equal("name", r.Str("param"));

        r = await admin.PostAsync("/admin/collab/vfl/tables?name=t&label_column=y", rawBody: "id,f1,y\n1,0.5,1\n2\u0000x,0.7,0\n3,0.1,1\n", contentType: "text/csv");
        Assert.True(r.Status == HttpStatusCode.UnprocessableEntity, $"{r}\n{hub.RecentProblems()}");
        Assert.Equal("bad_id", r.Str("code"));
        Assert.Equal(before, await TablesAsync());

        // The same table without the NUL is stored: the checks refuse only what the store cannot hold.
        r = await admin.PostAsync("/admin/collab/vfl/tables?name=t&label_column=y", rawBody: Csv, contentType: "text/csv");
        Assert.True(r.Status == HttpStatusCode.Created, $"{r}\n{hub.RecentProblems()}");
        Assert.Equal(before + 1, await TablesAsync());
    }
}

[Collection("sqlite")]
public sealed class CollabVflTableInputTests_Sqlite(SqliteHub hub) : CollabVflTableInputTests(hub);

[Collection("postgres")]
public sealed class CollabVflTableInputTests_Postgres(PostgresHub hub) : CollabVflTableInputTests(hub);
