using System.Diagnostics;
using System.Net;
using System.Text;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;
using Hutong.Collab.Vfl.Protocol;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// Issue 20 between two real hub processes on default_credit, with the label side (the e-commerce side, A, which drives
/// the training) SIGKILLed mid-training and restarted: its runner picks the running job up, both parties resume from
/// the last epoch both had finished — not from zero — and no epoch that both had stored is trained again (its stored
/// row keeps its time); the job ends finished with every epoch stored once, within 0.01 AUC of the plaintext logistic
/// regression on the joined data (same options, same id order). A seeded 3,000-row subsample of the 30,000 rows (the
/// in-process TrainingTests' subsample: the full set trains ~20 s per epoch on this machine, the benchmark runs it).
/// </summary>
[Collection("crash")]
public sealed class CollabVflLabelSideTests(ITestOutputHelper output)
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "data", "vertical");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Default_credit_across_two_hubs_survives_a_killed_label_side_and_matches_plaintext(bool postgres)
    {
        var watch = Stopwatch.StartNew();
        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-vflcredit-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var guestPath = Path.Combine(dir, "credit_guest.csv");
        var hostPath = Path.Combine(dir, "credit_host.csv");
        Subsample(Path.Combine(DataDir, "default_credit_hetero_guest.csv"), Path.Combine(DataDir, "default_credit_hetero_host.csv"), 3_000, guestPath, hostPath);
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres, new Dictionary<string, string> { ["Logging__LogLevel__Hutong.Collab"] = "Information" });
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres, new Dictionary<string, string> { ["Logging__LogLevel__Hutong.Collab"] = "Information" });
        try
        {
            await CollabNodeProcess.PairAsync(a, b);
            var (s1, guestTable) = await CollabVflTests.UploadAsync(a, "name=credit-guest&id_column=id&label_column=y", await File.ReadAllTextAsync(guestPath));
            Assert.True(s1 == HttpStatusCode.Created, guestTable.ToString());
            var (s2, hostTable) = await CollabVflTests.UploadAsync(b, "name=credit-host&id_column=id", await File.ReadAllTextAsync(hostPath));
            Assert.True(s2 == HttpStatusCode.Created, hostTable.ToString());
            Assert.Equal(3_000, guestTable.GetProperty("rows").GetInt64());

            var options = new VflOptions { Epochs = 5, BatchSize = 256, LearningRate = 0.3, L2 = 0.001, Tolerance = 0, Seed = 20, HoldoutShare = 0.2 };
            var id = await CollabVflTests.TrainAsync(a, b, guestTable, hostTable, options);

            // Kill the label side once it stored two epochs (it drives: the ad side's party waits for it).
            await CollabVflTests.WaitAsync(async () => await CollabVflTests.EpochsAsync(a, id) >= 2, "A stored 2 epochs", a, b);
            a.Kill();
            var beforeA = await a.VflEpochsStoredAsync(id);
            Assert.Equal("running", (await b.JobAsync(id)).State);
            await Task.Delay(1000);
            var beforeB = await b.VflEpochsStoredAsync(id); // the ad side cannot move on without the label side
            Assert.InRange(beforeA.Count, 2, options.Epochs - 1);
            await a.StartProcessAsync();

            Assert.Equal("finished", await a.WaitForStateAsync(id, TimeSpan.FromSeconds(120), "finished", "failed"));
            Assert.Equal("finished", await b.WaitForStateAsync(id, TimeSpan.FromSeconds(30), "finished", "failed"));

            // Resumed from the last finished epoch: A aligned again after the restart and its party started after the
            // epoch it had stored; the epochs both had stored were not trained again (their rows keep their times), at most
            // the one epoch only one party had finished is replayed, and every epoch is stored exactly once on each side.
            var common = Math.Min(beforeA.Count, beforeB.Count);
            var afterA = await a.VflEpochsStoredAsync(id);
            var afterB = await b.VflEpochsStoredAsync(id);
            Assert.Equal(Enumerable.Range(1, options.Epochs).Select(e => (long)e), afterA.Select(e => e.Epoch));
            Assert.Equal(Enumerable.Range(1, options.Epochs).Select(e => (long)e), afterB.Select(e => e.Epoch));
            Assert.True(common >= 2, $"the parties had {beforeA.Count} and {beforeB.Count} epochs stored at the kill");
            Assert.InRange(Math.Max(beforeA.Count, beforeB.Count) - common, 0, 1);
            Assert.Equal(beforeA.Take(common), afterA.Take(common));
            Assert.Equal(beforeB.Take(common), afterB.Take(common));
            var detail = await a.GetJsonAsync($"/admin/collab/jobs/{id}");
            var aligned = detail.GetProperty("audit").EnumerateArray().Where(e => e.GetProperty("action").GetString() == "vfl_aligned")
                .Select(e => e.GetProperty("detail").GetString()!).ToList();
            Assert.True(aligned.Count >= 2, string.Join(" | ", aligned));
            Assert.Contains("training from scratch", aligned[0], StringComparison.Ordinal);
            Assert.Contains($"resuming after epoch {beforeA.Count}", aligned[1], StringComparison.Ordinal);
            Assert.Single(detail.GetProperty("audit").EnumerateArray(), e => e.GetProperty("action").GetString() == "started");

            var resultA = await a.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var resultB = await b.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            Assert.Equal(options.Epochs, resultA.GetProperty("epochs").GetInt32());
            Assert.Equal(Enumerable.Range(1, options.Epochs), resultA.GetProperty("progress").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
            Assert.Equal(10, resultB.GetProperty("model").GetProperty("weights").EnumerateObject().Count());

            // The plaintext reference on the joined data, same options, same intersection order.
            var guest = PartyTableLoader.Load(guestPath, new TableOptions("id", "y"));
            var host = PartyTableLoader.Load(hostPath, new TableOptions("id"));
            var ids = PartyTableLoader.Intersection(guest, host);
            var g = guest.Align(ids);
            var h = host.Align(ids);
            var plain = PlainLogisticRegression.Train([.. g.Columns, .. h.Columns], g.Labels!, g.Columns.Length, options);
            var auc = resultA.GetProperty("holdout").GetProperty("auc").GetDouble();
            output.WriteLine($"{(postgres ? "PostgreSQL" : "SQLite")}: default_credit {ids.Count} rows; label side killed with {beforeA.Count} epochs stored (ad side {beforeB.Count}), resumed after epoch {beforeA.Count}; " +
                $"federated AUC {auc:F4}, plaintext {plain.Holdout.Auc:F4}; per-epoch s {string.Join(", ", resultA.GetProperty("progress").EnumerateArray().Select(e => e.GetProperty("seconds").GetDouble().ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}; {watch.Elapsed.TotalSeconds:F1} s; {CollabVflTests.Uptime()}");
            Assert.Equal(ids.Count, resultA.GetProperty("intersection").GetInt32());
            Assert.InRange(auc, plain.Holdout.Auc - 0.01, plain.Holdout.Auc + 0.01);
            Assert.Equal(auc, resultB.GetProperty("holdout").GetProperty("auc").GetDouble());
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

    /// <summary>
    /// A seeded subsample of the two files' common ids (the same pick as the in-process tests and the benchmark:
    /// Random(7) over the ordinal intersection), each file keeping its own lines and order.
    /// </summary>
    internal static void Subsample(string guestIn, string hostIn, int rows, string guestOut, string hostOut)
    {
        var guest = PartyTableLoader.Load(guestIn, new TableOptions("id", "y"));
        var host = PartyTableLoader.Load(hostIn, new TableOptions("id"));
        var pick = PartyTableLoader.Intersection(guest, host).ToArray();
        new Random(7).Shuffle(pick);
        var keep = pick.Take(rows).ToHashSet(StringComparer.Ordinal);
        foreach (var (from, to) in new[] { (guestIn, guestOut), (hostIn, hostOut) })
        {
            var lines = File.ReadAllLines(from);
            File.WriteAllLines(to, [lines[0], .. lines.Skip(1).Where(l => keep.Contains(l[..l.IndexOf(',', StringComparison.Ordinal)]))], new UTF8Encoding(false));
        }
    }
}
