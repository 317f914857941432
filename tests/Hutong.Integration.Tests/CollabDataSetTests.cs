using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hutong.Cli;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Collab.DataSets;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;
using Parquet;
using Parquet.Schema;

namespace Hutong.Integration.Tests;

/// <summary>
/// Cooperation data sets (issue 19) over real HTTP to a hub, on both stores: uploads (CSV, Parquet) read back bucket by
/// bucket equal the plaintext normalised set whatever the job's bucket count; every malformed upload gets its problem and
/// leaves nothing stored; E's conversions from the hub's own payments net refunds.
/// </summary>
public abstract class CollabDataSetTests(HubFixture hub)
{
    private CollabDataSetLimits Limits => hub.Service<IOptions<CollabDataSetLimits>>().Value;

    private async Task<ApiResponse> UploadAsync(string query, byte[] body, string contentType = "text/csv", string? key = null)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var request = new HttpRequestMessage(HttpMethod.Post, "/admin/collab/datasets?" + query) { Content = content };
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString());
        return await hub.Admin().SendAsync(request);
    }

    private Task<ApiResponse> UploadAsync(string query, string csv, string? key = null) => UploadAsync(query, Encoding.UTF8.GetBytes(csv), key: key);

    /// <summary>Every bucket of <paramref name="buckets"/>, each row checked to be in its bucket and not repeated.</summary>
    private async Task<List<CollabRow>> ReadAllAsync(string id, int buckets)
    {
        var sets = hub.Service<ICollabDataSets>();
        var rows = new List<CollabRow>();
        for (var b = 0; b < buckets; b++)
        {
            await foreach (var row in sets.ReadBucketAsync(id, b, buckets, CancellationToken.None))
            {
                Assert.Equal(b, CollabBuckets.BucketOf(row.Id, buckets));
                rows.Add(row);
            }
        }

        Assert.Equal(rows.Count, rows.Select(r => (r.Id, r.Campaign)).Distinct().Count());
        return rows;
    }

    /// <summary>A problem's detail and every error it lists, as text.</summary>
    private static string ProblemText(ApiResponse r) =>
        (r.Json.TryGetProperty("detail", out var d) ? d.GetString() : "") + "\n"
        + (r.Json.TryGetProperty("errors", out var e) ? string.Join("\n", e.EnumerateObject().SelectMany(p => p.Value.EnumerateArray()).Select(x => x.GetString())) : "");

    private async Task<(long Sets, long Rows)> StoredAsync() =>
        (await hub.CountAsync("SELECT COUNT(*) FROM collab_datasets"), await hub.CountAsync("SELECT COUNT(*) FROM collab_dataset_rows"));

    private static string Phone(int i, int style)
    {
        var d = (13_900_000_000L + i * 7919L).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return style switch
        {
            0 => d,
            1 => $"+86 {d[..3]} {d[3..7]} {d[7..]}",
            2 => $"0086-{d}",
            _ => $"\"({d[..3]}) {d[3..]}\"", // quoted in the CSV, parentheses and a space
        };
    }

    [Fact]
    public async Task A_CSV_upload_of_conversions_reads_back_bucket_by_bucket_as_the_plaintext_normalised_set()
    {
        var chunk = Limits.ChunkRows;
        Limits.ChunkRows = 40; // many chunks, so sums across chunks go through the store's upsert
        try
        {
            var expected = new Dictionary<string, (long Value, long Time)>();
            var csv = new StringBuilder("\uFEFFnote,buyer phone,amount,paid at\r\n");
            var rnd = new Random(19);
            var rows = 0;
            for (var i = 0; i < 300; i++)
            {
                // About one buyer in four buys again later, written another way: summed per normalised id.
                foreach (var repeat in i % 4 == 0 ? new[] { 0, 1 } : [0])
                {
                    var fen = rnd.Next(1, 500_000);
                    var time = 1_794_000_000L + rnd.Next(0, 1_000_000);
                    var norm = "+" + (13_900_000_000L + i * 7919L).ToString(System.Globalization.CultureInfo.InvariantCulture).Insert(0, "86");
                    var at = DateTimeOffset.FromUnixTimeSeconds(time).ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
                    csv.Append($"\"n, {i}\",{Phone(i, (i + repeat) % 4)},{fen / 100}.{fen % 100:D2},{(repeat == 0 ? at : time.ToString(System.Globalization.CultureInfo.InvariantCulture))}\r\n");
                    expected[norm] = expected.TryGetValue(norm, out var e) ? (e.Value + fen, Math.Min(e.Time, time)) : (fen, time);
                    rows++;
                }
            }

            var query = "name=e-commerce%20buyers&kind=conversions&id_rule=phone&id_column=buyer%20phone&value_column=amount&value_format=amount&time_column=paid%20at&duplicates=sum";
            var key = Guid.NewGuid().ToString();
            var r = await UploadAsync(query, csv.ToString(), key);
            Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
            var id = r.Str("id");
            Assert.Equal("ready", r.Str("state"));
            Assert.Equal("phone", r.Str("id_rule"));
            Assert.Equal("phone-e164-cn/v1", r.Str("id_rule_name")); // the normalisation is recorded with the data set
            Assert.Equal(expected.Count, r.Json.GetProperty("rows").GetInt64());
            Assert.Equal(rows, r.Json.GetProperty("input_rows").GetInt64());
            Assert.Equal(rows - expected.Count, r.Json.GetProperty("merged_rows").GetInt64());
            Assert.Equal(expected.Values.Sum(v => v.Value), r.Json.GetProperty("value_total").GetInt64());
            Assert.Equal(256, r.Json.GetProperty("stored_buckets").GetInt32());
            Assert.Equal("sum", r.Json.GetProperty("options").GetProperty("duplicates").GetString());

            // Any job bucket count: a divisor of 256, 256, a multiple, or neither.
            foreach (var buckets in new[] { 1, 8, 256, 512, 7 })
            {
                var back = await ReadAllAsync(id, buckets);
                Assert.Equal(expected.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => (x.Key, x.Value.Value, (long?)x.Value.Time)),
                    back.OrderBy(x => x.Id, StringComparer.Ordinal).Select(x => (x.Id, x.Value, x.TimeUnixSeconds)));
                Assert.All(back, x => Assert.Null(x.Campaign));
            }

            var info = await hub.Service<ICollabDataSets>().GetAsync(id, CancellationToken.None);
            Assert.Equal(new CollabDataSetInfo(id, CollabDataSetKind.Conversions, IdRule.Phone, expected.Count, "CNY"), info);

            // The same request with the same key is answered again, not stored twice; the data set is listed and shown.
            var (sets, stored) = await StoredAsync();
            var again = await UploadAsync(query, csv.ToString(), key);
            Assert.Equal(HttpStatusCode.Created, again.Status);
            Assert.Equal(id, again.Str("id"));
            Assert.Equal((sets, stored), await StoredAsync());
            Assert.Equal(r.Body, (await hub.Admin().GetAsync($"/admin/collab/datasets/{id}")).Body);
            Assert.Contains((await hub.Admin().GetAsync("/admin/collab/datasets")).Json.GetProperty("data").EnumerateArray(), d => d.GetProperty("id").GetString() == id);

            // Only normalised ids are stored.
            Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM collab_dataset_rows WHERE dataset_id = @id AND norm_id NOT LIKE '+86%'", new { id }));

            // Deleted: its rows go, jobs no longer see it.
            Assert.Equal(HttpStatusCode.NoContent, (await hub.Admin().DeleteAsync($"/admin/collab/datasets/{id}")).Status);
            Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM collab_dataset_rows WHERE dataset_id = @id", new { id }));
            Assert.Equal(HttpStatusCode.NotFound, (await hub.Admin().GetAsync($"/admin/collab/datasets/{id}")).Status);
            Assert.Null(await hub.Service<ICollabDataSets>().GetAsync(id, CancellationToken.None));
            Assert.Equal(HttpStatusCode.NotFound, (await hub.Admin().DeleteAsync($"/admin/collab/datasets/{id}")).Status);
        }
        finally
        {
            Limits.ChunkRows = chunk;
        }
    }

    [Fact]
    public async Task A_Parquet_upload_of_exposures_is_read_row_group_by_row_group_and_keeps_each_users_first_exposure_per_campaign()
    {
        var device = new DataField<string>("device");
        var campaign = new DataField<string>("campaign");
        var ts = new DataField<long>("ts");
        var arm = new DataField<string>("arm");
        var expected = new Dictionary<(string, string), (long Time, CollabGroup Group)>();
        using var file = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(device, campaign, ts, arm), file))
        {
            for (var g = 0; g < 3; g++)
            {
                var ids = new List<string>();
                var campaigns = new List<string>();
                var times = new List<long>();
                var arms = new List<string>();
                for (var i = 0; i < 200; i++)
                {
                    var user = (g * 97 + i) % 250; // users recur across row groups: later exposures of the same campaign are dropped
                    var raw = $"{user:X8}-ABCD-{user % 7:D4}";
                    var c = user % 3 == 0 ? "双11-开屏" : "feed";
                    var time = 1_794_000_000L + (g * 1000) + i;
                    var group = user % 2 == 0 ? "Test" : "control";
                    ids.Add(raw);
                    campaigns.Add(c);
                    times.Add(time);
                    arms.Add(group);
                    var key = (raw.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant(), c);
                    if (!expected.TryGetValue(key, out var e) || time < e.Time)
                    {
                        expected[key] = (time, group == "Test" ? CollabGroup.Test : CollabGroup.Control);
                    }
                }

                using var rg = writer.CreateRowGroup();
                await rg.WriteAsync(device, ids);
                await rg.WriteAsync(campaign, campaigns);
                await rg.WriteAsync<long>(ts, times.ToArray().AsMemory());
                await rg.WriteAsync(arm, arms);
            }
        }

        var r = await UploadAsync("name=ads&kind=exposures&id_rule=device&id_column=device&campaign_column=campaign&time_column=ts&group_column=arm",
            file.ToArray(), "application/vnd.apache.parquet");
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        Assert.Equal("parquet", r.Str("source"));
        Assert.Equal("device-hex-lower/v1", r.Str("id_rule_name"));
        Assert.Equal(600, r.Json.GetProperty("input_rows").GetInt64());
        Assert.Equal(expected.Count, r.Json.GetProperty("rows").GetInt64());

        foreach (var buckets in new[] { 4, 1024 })
        {
            var back = await ReadAllAsync(r.Str("id"), buckets);
            Assert.Equal(expected.OrderBy(x => x.Key.Item1, StringComparer.Ordinal).ThenBy(x => x.Key.Item2, StringComparer.Ordinal)
                    .Select(x => (x.Key.Item1, x.Key.Item2, (long?)x.Value.Time, x.Value.Group, 0L)),
                back.OrderBy(x => x.Id, StringComparer.Ordinal).ThenBy(x => x.Campaign, StringComparer.Ordinal)
                    .Select(x => (x.Id, x.Campaign!, x.TimeUnixSeconds, x.Group, x.Value)));
        }
    }

    public static TheoryData<string, string, string, HttpStatusCode, string, string?> Malformed() => new()
    {
        { "missing column", "kind=conversions&id_rule=phone&id_column=phone&value_column=fen", "phone,value\r\n13800138000,5\r\n", HttpStatusCode.BadRequest, "missing_column", "'fen'" },
        { "bad id", "kind=conversions&id_rule=phone&id_column=phone&value_column=v", "phone,v\r\n13800138000,5\r\n13800138001,5\r\n010-12345678,5\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 4: bad_id" },
        { "duplicate ids refused by default", "kind=conversions&id_rule=phone&id_column=phone&value_column=v", "phone,v\r\n13800138000,5\r\n+86 138 0013 8000,6\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 3: duplicate_id — the same id as row 2" },
        { "empty file", "kind=conversions&id_rule=phone&id_column=phone&value_column=v", "", HttpStatusCode.BadRequest, "empty_file", null },
        { "header only", "kind=conversions&id_rule=phone&id_column=phone&value_column=v", "phone,v\r\n", HttpStatusCode.BadRequest, "empty_file", null },
        { "bad value", "kind=conversions&id_rule=phone&id_column=phone&value_column=v&value_format=amount", "phone,v\r\n13800138000,19.999\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 2: bad_value" },
        { "float in minor units", "kind=conversions&id_rule=phone&id_column=phone&value_column=v", "phone,v\r\n13800138000,19.99\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 2: bad_value" },
        { "bad time", "kind=conversions&id_rule=phone&id_column=phone&value_column=v&time_column=t", "phone,v,t\r\n13800138000,1,2026-11-11T20:00:00\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 2: bad_time" },
        { "bad group", "kind=exposures&id_rule=opaque&campaign_column=c&group_column=g", "id,c,g\r\nu1,x,maybe\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 2: bad_group" },
        { "short row", "kind=exposures&id_rule=opaque&campaign_column=c", "id,c\r\nu1\r\n", HttpStatusCode.BadRequest, "dataset_invalid", "row 2: malformed_row" },
        { "stray quote", "kind=exposures&id_rule=opaque&campaign_column=c", "id,c\r\nu\"1,x\r\n", HttpStatusCode.BadRequest, "stray_quote", "row 2" },
        { "unknown option", "kind=conversions&id_rule=phone&value_column=v&dupes=sum", "id,v\r\n13800138000,1\r\n", HttpStatusCode.BadRequest, "validation_error", null },
        { "no kind", "id_rule=phone&value_column=v", "id,v\r\n13800138000,1\r\n", HttpStatusCode.BadRequest, "validation_error", null },
        { "no value column", "kind=conversions&id_rule=phone", "id,v\r\n13800138000,1\r\n", HttpStatusCode.BadRequest, "validation_error", null },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_upload_gets_its_problem_and_leaves_nothing_stored(string what, string query, string csv, HttpStatusCode status, string code, string? detail)
    {
        var before = await StoredAsync();
        var r = await UploadAsync("name=" + Uri.EscapeDataString(what) + "&" + query, csv);
        Assert.True(r.Status == status, $"{what}: {r}");
        Assert.Equal(code, r.Str("code"));
        Assert.StartsWith("application/problem+json", r.ContentHeaders!.ContentType!.ToString(), StringComparison.Ordinal);
        if (detail is not null)
        {
            Assert.Contains(detail, ProblemText(r), StringComparison.Ordinal);
        }

        // A refused id is named by its row, never repeated.
        Assert.DoesNotContain("12345678", r.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("13800138000", r.Body, StringComparison.Ordinal);
        Assert.Equal(before, await StoredAsync());
    }

    [Fact]
    public async Task Refusals_found_after_chunks_were_written_still_leave_nothing_and_limits_are_enforced()
    {
        var limits = Limits;
        var (chunk, maxRows, maxBytes) = (limits.ChunkRows, limits.MaxRows, limits.MaxBytes);
        limits.ChunkRows = 10;
        try
        {
            var before = await StoredAsync();
            var csv = new StringBuilder("id,v\r\n");
            for (var i = 0; i < 95; i++)
            {
                csv.Append($"{13_800_000_000L + i},{i}\r\n");
            }

            // Duplicates of rows 2 and 3 (in the first chunk, already written) at rows 97 and 98: found by the store.
            csv.Append("+86 13800000000,7\r\n");
            csv.Append("+86 13800000001,8\r\n");
            var r = await UploadAsync("name=late&kind=conversions&id_rule=phone&value_column=v", csv.ToString());
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("dataset_invalid", r.Str("code"));
            var errors = r.Json.GetProperty("errors").GetProperty("rows").EnumerateArray().Select(e => e.GetString()!).ToList();
            Assert.Contains(errors, e => e.StartsWith("row 97: duplicate_id", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.StartsWith("row 98: duplicate_id", StringComparison.Ordinal));
            Assert.Equal(before, await StoredAsync());

            limits.MaxRows = 50;
            r = await UploadAsync("name=many&kind=conversions&id_rule=phone&value_column=v", string.Join("", csv.ToString().Split("\r\n").Take(60).Select(l => l + "\r\n")));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.Status);
            Assert.Equal("too_many_rows", r.Str("code"));
            Assert.Equal(before, await StoredAsync());

            limits.MaxBytes = 100;
            r = await UploadAsync("name=big&kind=conversions&id_rule=phone&value_column=v", csv.ToString());
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.Status);
            Assert.Equal("dataset_too_large", r.Str("code"));
            Assert.Equal(before, await StoredAsync());

            // Not UTF-8 (a GBK-encoded header): refused, never read as replacement characters.
            limits.MaxBytes = maxBytes;
            r = await UploadAsync("name=gbk&kind=exposures&id_rule=opaque&campaign_column=c", [.. "id,c\r\nu1,"u8.ToArray(), 0xC4, 0xE3, 0xBA, 0xC3, 0x0D, 0x0A]); // GBK 你好
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("not_utf8", r.Str("code"));

            // A floating-point value column in Parquet is refused: a double cannot hold fen exactly.
            var idField = new DataField<string>("id");
            var value = new DataField<double>("v");
            using var file = new MemoryStream();
            await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(idField, value), file))
            {
                using var rg = writer.CreateRowGroup();
                await rg.WriteAsync(idField, new[] { "13800138000" });
                await rg.WriteAsync<double>(value, new[] { 19.99 }.AsMemory());
            }

            r = await UploadAsync("name=float&kind=conversions&id_rule=phone&value_column=v&format=parquet", file.ToArray(), "application/octet-stream");
            Assert.Equal("float_value", r.Str("code"));
            r = await UploadAsync("name=junk&kind=conversions&id_rule=phone&value_column=v&format=parquet", "not a parquet file"u8.ToArray(), "application/octet-stream");
            Assert.Equal("not_parquet", r.Str("code"));
            Assert.Equal(before, await StoredAsync());
        }
        finally
        {
            (limits.ChunkRows, limits.MaxRows, limits.MaxBytes) = (chunk, maxRows, maxBytes);
        }
    }

    [Fact]
    public async Task From_payments_builds_E_conversions_per_buyer_with_refunds_netted_and_the_first_paid_time()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync("电商平台");
        async Task<(string Id, long PaidAt)> PayAsync(long amount, string? buyer, string category)
        {
            var created = await m.PostAsync("/v1/payments", new
            {
                amount, currency = "CNY", description = "collab", merchant_order_id = "cb-" + Guid.NewGuid().ToString("N")[..12], buyer_id = buyer, product_category = category,
            });
            Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
            var id = created.Str("id");
            var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
            await hub.BuyerPaysAsync(code);
            await m.WaitForStatusAsync(id, "succeeded");
            var paidAt = await hub.CountAsync("SELECT succeeded_at FROM payments WHERE id = @id", new { id });
            return (id, paidAt / 1000);
        }

        async Task RefundAsync(string id, long amount, long total)
        {
            Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount })).Status);
            await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == total, what: "the refund succeeds");
        }

        var a1 = await PayAsync(10_000, "buyer-a", "tea");
        var a2 = await PayAsync(500, "buyer-a", "book");
        var b = await PayAsync(2_000, "buyer-b", "tea");
        var c = await PayAsync(700, "buyer-c", "book");
        await PayAsync(900, null, "tea"); // no buyer id: cannot be matched, skipped
        await RefundAsync(a1.Id, 3_000, 3_000);
        await RefundAsync(b.Id, 2_000, 2_000); // fully refunded: buyer-b bought nothing in the end

        var from = DateTimeOffset.UtcNow.AddHours(-1);
        var r = await hub.Admin().PostAsync("/admin/collab/datasets/from-payments", new { merchant = merchantId, from, to = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        Assert.Equal("payments", r.Str("source"));
        Assert.Equal("opaque-trim/v1", r.Str("id_rule_name"));
        var rows = (await ReadAllAsync(r.Str("id"), 16)).OrderBy(x => x.Id, StringComparer.Ordinal).ToList();
        Assert.Equal([("buyer-a", 7_000 + 500, Math.Min(a1.PaidAt, a2.PaidAt)), ("buyer-c", 700, c.PaidAt)],
            rows.Select(x => (x.Id, x.Value, x.TimeUnixSeconds ?? -1)));
        Assert.Equal(8_200, r.Json.GetProperty("value_total").GetInt64());

        // One category; and the same through the CLI on the hub's store.
        var store = hub.Service<StoreOptions>();
        using var output = new StringWriter();
        var code = await HutongCli.RunAsync(["collab", "dataset", "from-payments", "--merchant", merchantId, "--from", from.ToString("O"), "--category", "tea",
            "--store", store.Provider.ToString(), "--connection", store.ConnectionString], output);
        Assert.True(code == 0, output.ToString());
        var id = System.Text.RegularExpressions.Regex.Match(output.ToString(), @"data set (cds_\w+) ready").Groups[1].Value;
        Assert.Equal([("buyer-a", 7_000L)], (await ReadAllAsync(id, 1)).Select(x => (x.Id, x.Value)));

        // A merchant with nothing to measure is refused, with nothing stored.
        var before = await StoredAsync();
        var empty = await hub.Admin().PostAsync("/admin/collab/datasets/from-payments", new { merchant = "mch_none", from });
        Assert.Equal("empty_file", empty.Str("code"));
        Assert.Equal(before, await StoredAsync());
    }

    [Fact]
    public async Task The_same_Idempotency_Key_with_other_query_options_is_a_mismatch_and_stores_nothing()
    {
        const string csv = "uid,campaign\r\nu-1,c1\r\nu-2,c1\r\n";
        var key = Guid.NewGuid().ToString();
        var first = await UploadAsync("name=first&kind=exposures&id_rule=opaque&id_column=uid&campaign_column=campaign", csv, key);
        Assert.True(first.Status == HttpStatusCode.Created, first.ToString());
        var before = await StoredAsync();

        // Same body, same key, another option in the query (a name; then an id rule): refused as a reused key, nothing stored.
        foreach (var other in new[] { "name=second&kind=exposures&id_rule=opaque&id_column=uid&campaign_column=campaign", "name=first&kind=exposures&id_rule=device&id_column=uid&campaign_column=campaign" })
        {
            var r = await UploadAsync(other, csv, key);
            Assert.True(r.Status == HttpStatusCode.UnprocessableEntity, r.ToString());
            Assert.Equal("idempotency_key_reused", r.Str("code"));
            Assert.Equal(before, await StoredAsync());
        }

        // The same options in another order are the same request: the first answer again.
        var again = await UploadAsync("campaign_column=campaign&id_column=uid&id_rule=opaque&kind=exposures&name=first", csv, key);
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.Equal(first.Str("id"), again.Str("id"));
        Assert.Equal(before, await StoredAsync());
    }

    [Fact]
    public async Task A_data_set_a_job_that_has_not_ended_uses_cannot_be_deleted()
    {
        var r = await UploadAsync("name=in-use&kind=exposures&id_rule=opaque&id_column=uid&campaign_column=campaign", "uid,campaign\r\nu-1,c1\r\nu-2,c1\r\nu-3,c1\r\n");
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        var id = r.Str("id");
        var store = hub.Service<Hutong.Collab.Node.ICollabStore>();
        var peer = "peer-" + Guid.NewGuid().ToString("N")[..8];
        Assert.True(await store.AddPeerAsync(new Hutong.Collab.Node.CollabPeer(peer, "https://127.0.0.1:1", new string('a', 56) + Guid.NewGuid().ToString("N")[..8], 1), "test", CancellationToken.None));
        var terms = new Hutong.Collab.Node.CollabTerms(Hutong.Collab.Node.CollabTerms.Overlap, "fp-own", "fp-peer", id, "synthetic:x", "proposer", null, 10, null, 4, null);
        var jobId = "cj_inuse" + Guid.NewGuid().ToString("N")[..12];
        var job = new Hutong.Collab.Node.CollabJob(jobId, peer, Hutong.Collab.Node.CollabSide.Proposer, terms, terms.Sha256(), Hutong.Collab.Node.CollabJobState.Proposed,
            false, false, false, true, false, false, 0, 0, null, null, null, null, 1, 1);
        Assert.True(await store.InsertJobAsync(job, "test", "proposed", null, CancellationToken.None));
        Assert.True(await store.MoveAsync(jobId, Hutong.Collab.Node.CollabJobState.Proposed, Hutong.Collab.Node.CollabJobState.Approved, Hutong.Collab.Node.CollabJobChange.None, "test", "both_approved", null, CancellationToken.None));
        Assert.True(await store.MoveAsync(jobId, Hutong.Collab.Node.CollabJobState.Approved, Hutong.Collab.Node.CollabJobState.Running, Hutong.Collab.Node.CollabJobChange.None, "test", "started", null, CancellationToken.None));

        // Running: refused with a problem naming the job; the data set and its rows stay, still ready to read.
        var before = await StoredAsync();
        var refused = await hub.Admin().DeleteAsync($"/admin/collab/datasets/{id}");
        Assert.True(refused.Status == HttpStatusCode.Conflict, refused.ToString());
        Assert.Equal("dataset_in_use", refused.Str("code"));
        Assert.Contains(jobId, refused.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(before, await StoredAsync());
        Assert.Equal("ready", (await hub.Admin().GetAsync($"/admin/collab/datasets/{id}")).Str("state"));
        Assert.Equal(3, (await ReadAllAsync(id, 4)).Count);

        // Once the job ended, the data set goes.
        Assert.True(await store.MoveAsync(jobId, Hutong.Collab.Node.CollabJobState.Running, Hutong.Collab.Node.CollabJobState.Failed, new Hutong.Collab.Node.CollabJobChange { Error = "test" }, "test", "failed", null, CancellationToken.None));
        Assert.Equal(HttpStatusCode.NoContent, (await hub.Admin().DeleteAsync($"/admin/collab/datasets/{id}")).Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM collab_dataset_rows WHERE dataset_id = @id", new { id }));
    }

    [Fact]
    public async Task The_CLI_uploads_lists_and_refuses_with_a_non_zero_exit_and_the_rows()
    {
        var store = hub.Service<StoreOptions>();
        var dir = Directory.CreateTempSubdirectory("hutong-collab-cli-");
        try
        {
            async Task<(int Code, string Output)> RunAsync(params string[] args)
            {
                using var output = new StringWriter();
                var code = await HutongCli.RunAsync([.. args, "--store", store.Provider.ToString(), "--connection", store.ConnectionString], output);
                return (code, output.ToString());
            }

            var good = Path.Combine(dir.FullName, "exposures.csv");
            await File.WriteAllTextAsync(good, "uid,campaign,group\r\nu-1,c1,test\r\nu-2,c1,control\r\nu-1,c2,test\r\n");
            var (code, text) = await RunAsync("collab", "dataset", "upload", good, "--kind", "exposures", "--id-rule", "opaque", "--id-column", "uid", "--campaign-column", "campaign", "--group-column", "group");
            Assert.True(code == 0, text);
            Assert.Contains("3 rows", text, StringComparison.Ordinal);
            var id = System.Text.RegularExpressions.Regex.Match(text, @"data set (cds_\w+) ready").Groups[1].Value;
            Assert.Contains(id, (await RunAsync("collab", "dataset", "list")).Output, StringComparison.Ordinal);
            Assert.Contains("\"kind\": \"exposures\"", (await RunAsync("collab", "dataset", "show", id)).Output, StringComparison.Ordinal);

            var before = await StoredAsync();
            var bad = Path.Combine(dir.FullName, "conversions.csv");
            await File.WriteAllTextAsync(bad, "phone,v\r\n13800138000,1\r\n13800138000,2\r\n");
            (code, text) = await RunAsync("collab", "dataset", "upload", bad, "--kind", "conversions", "--id-rule", "phone", "--id-column", "phone", "--value-column", "v");
            Assert.Equal(1, code);
            Assert.Contains("row 3: duplicate_id", text, StringComparison.Ordinal);
            Assert.Equal(before, await StoredAsync());

            // --duplicates sum is the documented way to take a buyer's several purchases.
            (code, text) = await RunAsync("collab", "dataset", "upload", bad, "--kind", "conversions", "--id-rule", "phone", "--id-column", "phone", "--value-column", "v", "--duplicates", "sum");
            Assert.True(code == 0, text);
            Assert.Contains("1 rows (2 read, 1 merged)", text, StringComparison.Ordinal);

            Assert.Equal(0, (await RunAsync("collab", "dataset", "delete", id)).Code);
            Assert.Equal(1, (await RunAsync("collab", "dataset", "show", id)).Code);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

[Collection("sqlite")]
public sealed class CollabDataSetTests_Sqlite(SqliteHub hub) : CollabDataSetTests(hub);

[Collection("postgres")]
public sealed class CollabDataSetTests_Postgres(PostgresHub hub) : CollabDataSetTests(hub);
