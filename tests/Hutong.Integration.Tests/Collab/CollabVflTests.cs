using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;
using Hutong.Collab.Vfl.Protocol;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// Issue 20 end to end: two real hub processes, the breast data set's label side uploaded to A (e-commerce) and its
/// feature side to B (ad side), a vfl-train job both approve, aligned by PSI and trained over the nodes' mTLS gRPC.
/// B is killed mid-training (SIGKILL) and restarted: training resumes from the last stored epoch and ends within 0.01
/// AUC of the plaintext logistic regression on the joined data (same hyperparameters). Each node stores its own part of
/// the model with the job; the ad side's result has no intercept, no label-side weight, only the three held-out figures.
/// </summary>
[Collection("crash")]
public sealed class CollabVflTests(ITestOutputHelper output)
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "data", "vertical");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Vfl_train_across_two_hubs_survives_a_killed_ad_side_and_matches_plaintext(bool postgres)
    {
        var watch = Stopwatch.StartNew();
        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-vfl-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres);
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres);
        try
        {
            await CollabNodeProcess.PairAsync(a, b);
            var guestCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_guest.csv"));
            var hostCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_host.csv"));

            // A feature table with labels on the ad side is refused at approval; a table with a missing id column at upload.
            var (bad, badBody) = await UploadAsync(b, "name=broken&id_column=user", hostCsv);
            Assert.True(bad == HttpStatusCode.UnprocessableEntity, badBody.ToString());
            Assert.Equal("missing_column", badBody.GetProperty("code").GetString());

            var (s1, guestTable) = await UploadAsync(a, "name=breast-guest&id_column=id&label_column=y", guestCsv);
            Assert.True(s1 == HttpStatusCode.Created, guestTable.ToString());
            var (s2, hostTable) = await UploadAsync(b, "name=breast-host&id_column=id", hostCsv);
            Assert.True(s2 == HttpStatusCode.Created, hostTable.ToString());
            Assert.Equal(569, guestTable.GetProperty("rows").GetInt64());
            Assert.True(guestTable.GetProperty("has_labels").GetBoolean());
            Assert.False(hostTable.GetProperty("has_labels").GetBoolean());
            Assert.Equal(20, hostTable.GetProperty("feature_names").GetArrayLength());

            var vfl = new { epochs = 10, batch_size = 64, learning_rate = 0.3, l2 = 0.001, tolerance = 0.0, seed = 20, holdout_share = 0.2 };
            var (s3, job) = await a.PostAsync("/admin/collab/jobs", new
            {
                peer = "b", protocol = "vfl-train", own_data_set = guestTable.GetProperty("id").GetString(),
                peer_data_set = hostTable.GetProperty("id").GetString(), ad_side = "peer", vfl,
            });
            Assert.True(s3 == HttpStatusCode.Created, job.ToString());
            var id = job.GetProperty("id").GetString()!;
            Assert.True(job.GetProperty("computes").GetBoolean(), "the label side drives vfl-train");
            var (s4, approveA) = await a.PostAsync($"/admin/collab/jobs/{id}/approve");
            Assert.True(s4 == HttpStatusCode.OK, approveA.ToString());
            await WaitAsync(async () => (await b.JobAsync(id)).ApprovedThere, "B hears A's proposal and approval", a, b);
            var (s5, approveB) = await b.PostAsync($"/admin/collab/jobs/{id}/approve");
            Assert.True(s5 == HttpStatusCode.OK, approveB.ToString());

            // Kill the ad side once two epochs are stored on it; the label side retries until it is back, then both resume.
            await WaitAsync(async () => await EpochsAsync(b, id) >= 2, "B stored 2 epochs", a, b);
            b.Kill();
            Assert.Equal("running", (await a.JobAsync(id)).State);
            await Task.Delay(1000);
            await b.StartProcessAsync();

            Assert.Equal("finished", await a.WaitForStateAsync(id, TimeSpan.FromSeconds(180), "finished", "failed"));
            Assert.Equal("finished", await b.WaitForStateAsync(id, TimeSpan.FromSeconds(30), "finished", "failed"));

            // The plaintext reference on the joined data, same options, same intersection order.
            var guest = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_guest.csv"), new TableOptions("id", "y"));
            var host = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_host.csv"), new TableOptions("id"));
            var ids = PartyTableLoader.Intersection(guest, host);
            var g = guest.Align(ids);
            var h = host.Align(ids);
            var options = new VflOptions { Epochs = 10, BatchSize = 64, LearningRate = 0.3, L2 = 0.001, Tolerance = 0, Seed = 20, HoldoutShare = 0.2 };
            var plain = PlainLogisticRegression.Train([.. g.Columns, .. h.Columns], g.Labels!, g.Columns.Length, options);

            var resultA = await a.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var resultB = await b.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var auc = resultA.GetProperty("holdout").GetProperty("auc").GetDouble();
            output.WriteLine($"{(postgres ? "PostgreSQL" : "SQLite")}: federated AUC {auc:F4}, plaintext {plain.Holdout.Auc:F4}; {watch.Elapsed.TotalSeconds:F1} s");
            Assert.InRange(auc, plain.Holdout.Auc - 0.01, 1.0);
            Assert.Equal(ids.Count, resultA.GetProperty("intersection").GetInt32());
            Assert.Equal(10, resultA.GetProperty("epochs").GetInt32());
            Assert.Equal(10, resultA.GetProperty("progress").GetArrayLength());
            Assert.Equal(10, resultA.GetProperty("model").GetProperty("weights").EnumerateObject().Count());

            // The ad side: its own 20 weights, no intercept, the same three figures and nothing per row.
            Assert.Equal("ad_side", resultB.GetProperty("role").GetString());
            Assert.Equal(20, resultB.GetProperty("model").GetProperty("weights").EnumerateObject().Count());
            Assert.False(resultB.GetProperty("model").TryGetProperty("intercept", out _));
            Assert.Equal(auc, resultB.GetProperty("holdout").GetProperty("auc").GetDouble());
            Assert.DoesNotContain("\"y\"", resultB.ToString(), StringComparison.Ordinal);

            // Resumed, not restarted: the label side aligned again and both parties started after a stored epoch.
            var detail = await a.GetJsonAsync($"/admin/collab/jobs/{id}");
            var aligned = detail.GetProperty("audit").EnumerateArray().Where(e => e.GetProperty("action").GetString() == "vfl_aligned")
                .Select(e => e.GetProperty("detail").GetString()!).ToList();
            Assert.True(aligned.Count >= 2, string.Join(" | ", aligned));
            Assert.Contains(aligned, d => d.Contains("resuming after epoch", StringComparison.Ordinal));
            Assert.Single(detail.GetProperty("audit").EnumerateArray(), e => e.GetProperty("action").GetString() == "started");
            Assert.Equal(10, detail.GetProperty("epochs").GetArrayLength());

            // Online scoring across the two processes: the ad side (B) asks "how likely is this user to buy"; the answer
            // is σ(u_G + u_H) from the two stored model parts, on the training's fixed-point feature grid.
            var gw = resultA.GetProperty("model").GetProperty("weights");
            var intercept = resultA.GetProperty("model").GetProperty("intercept").GetDouble();
            var hw = resultB.GetProperty("model").GetProperty("weights");
            var latencies = new List<double>();
            for (var k = 0; k < 120; k++)
            {
                var row = k * 7 % ids.Count;
                var u = intercept;
                for (var j = 0; j < g.Columns.Length; j++)
                {
                    u += gw.GetProperty(g.FeatureNames[j]).GetDouble() * FixedPoint.FeatureValue(FixedPoint.Feature(g.Columns[j][row]));
                }

                for (var j = 0; j < h.Columns.Length; j++)
                {
                    u += hw.GetProperty(h.FeatureNames[j]).GetDouble() * FixedPoint.FeatureValue(FixedPoint.Feature(h.Columns[j][row]));
                }

                var sw = Stopwatch.StartNew();
                var score = await b.GetJsonAsync($"/admin/collab/jobs/{id}/score?user={Uri.EscapeDataString(ids[row])}");
                latencies.Add(sw.Elapsed.TotalMilliseconds);
                Assert.Equal(1 / (1 + Math.Exp(-u)), score.GetProperty("probability").GetDouble(), 9);
            }

            latencies.Sort();
            output.WriteLine($"online scoring over two processes (HTTP to B, gRPC B→A): p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F1} ms, {latencies.Count} asks; {Uptime()}");
            using (var unknown = await b.Http.GetAsync($"/admin/collab/jobs/{id}/score?user=nobody"))
            {
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            }

            using (var wrongSide = await a.Http.GetAsync($"/admin/collab/jobs/{id}/score?user={ids[0]}"))
            {
                Assert.Equal(HttpStatusCode.Conflict, wrongSide.StatusCode); // the label side does not ask
            }
        }
        finally
        {
            await a.DisposeAsync();
            await b.DisposeAsync();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A proposes a vfl-train job on the two uploaded tables (B the ad side), both approve; returns the job id.</summary>
    internal static async Task<string> TrainAsync(CollabNodeProcess a, CollabNodeProcess b, JsonElement guestTable, JsonElement hostTable, VflOptions o)
    {
        var vfl = new { epochs = o.Epochs, batch_size = o.BatchSize, learning_rate = o.LearningRate, l2 = o.L2, tolerance = o.Tolerance, seed = o.Seed, holdout_share = o.HoldoutShare };
        var (s3, job) = await a.PostAsync("/admin/collab/jobs", new
        {
            peer = b.Name, protocol = "vfl-train", own_data_set = guestTable.GetProperty("id").GetString(),
            peer_data_set = hostTable.GetProperty("id").GetString(), ad_side = "peer", vfl,
        });
        Assert.True(s3 == HttpStatusCode.Created, job.ToString());
        var id = job.GetProperty("id").GetString()!;
        var (s4, approveA) = await a.PostAsync($"/admin/collab/jobs/{id}/approve");
        Assert.True(s4 == HttpStatusCode.OK, approveA.ToString());
        await WaitAsync(async () => (await b.JobAsync(id)).ApprovedThere, "B hears A's proposal and approval", a, b);
        var (s5, approveB) = await b.PostAsync($"/admin/collab/jobs/{id}/approve");
        Assert.True(s5 == HttpStatusCode.OK, approveB.ToString());
        return id;
    }

    internal static async Task<(HttpStatusCode Status, JsonElement Body)> UploadAsync(CollabNodeProcess node, string query, string csv)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/collab/vfl/tables?" + query) { Content = new StringContent(csv, System.Text.Encoding.UTF8, "text/csv") };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        using var r = await node.Http.SendAsync(request);
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    internal static string Uptime()
    {
        try
        {
            return "loadavg " + File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return "loadavg n/a";
        }
    }

    internal static async Task<int> EpochsAsync(CollabNodeProcess node, string id)
    {
        var j = await node.GetJsonAsync($"/admin/collab/jobs/{id}");
        return j.GetProperty("epochs").ValueKind == JsonValueKind.Array ? j.GetProperty("epochs").GetArrayLength() : 0;
    }

    internal static async Task WaitAsync(Func<Task<bool>> condition, string what, CollabNodeProcess a, CollabNodeProcess b)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"timed out waiting until {what}\n{a.Output()}\n{b.Output()}");
    }
}
