using System.Globalization;
using System.Net;
using System.Text.Json;
using Hutong.Cli;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Protocol;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// `hutong collab train|evaluate|score` against two real hub processes (SQLite, then PostgreSQL): train proposes a
/// vfl-train job on A (the label side), waits for B's approval, prints one line per stored epoch and ends with the
/// hold-out figures the job stored (exit 0); the same idempotency key follows the same job; evaluate prints the stored
/// figures; score asks B's hub online; a vfl-score job scores the whole table with the label side's scores equal to the
/// online ones and to σ(u_G + u_H) of the two stored model parts, while the ad side can read counts only. A run whose
/// tables share no id exits 1 with the reason; bad input exits 2. Partial vfl terms take the defaults.
/// </summary>
[Collection("crash")]
public sealed class CollabVflCliTests(ITestOutputHelper log)
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "data", "vertical");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Collab_train_evaluate_and_score_against_two_nodes(bool postgres)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var dir = Path.Combine(Path.GetTempPath(), "hutong-vfl-cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres);
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres);
        try
        {
            await CollabNodeProcess.PairAsync(a, b);
            var guestCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_guest.csv"));
            var hostCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_host.csv"));
            var (_, guestTable) = await CollabVflTests.UploadAsync(a, "name=breast-guest&id_column=id&label_column=y", guestCsv);
            var (_, hostTable) = await CollabVflTests.UploadAsync(b, "name=breast-host&id_column=id", hostCsv);
            var ta = guestTable.GetProperty("id").GetString()!;
            var tb = hostTable.GetProperty("id").GetString()!;

            // Bad input: exit 2, nothing proposed.
            var (bad1, badOut1) = await CliAsync(a, "collab", "train", "--peer", "b", "--own", ta);
            Assert.True(bad1 == 2, badOut1);
            Assert.Contains("--theirs", badOut1, StringComparison.Ordinal);
            var (bad2, badOut2) = await CliAsync(a, "collab", "train", "--peer", "b", "--own", ta, "--theirs", tb, "--epochs", "0");
            Assert.True(bad2 == 2, badOut2);
            var (bad3, badOut3) = await CliAsync(a, "collab", "train", "--peer", "nobody", "--own", ta, "--theirs", tb);
            Assert.True(bad3 == 2, badOut3);
            Assert.Empty((await a.GetJsonAsync("/admin/collab/jobs")).GetProperty("data").EnumerateArray());

            // Train: the CLI proposes, approves here, waits for B, then follows the epochs.
            var train = Task.Run(() => CliAsync(a, "collab", "train", "--peer", "b", "--own", ta, "--theirs", tb, "--epochs", "3", "--batch", "64",
                "--tolerance", "0", "--idempotency-key", "train-1"));
            var id = await ProposalOnAsync(b, "vfl-train", train);
            var (ap1, approve1) = await CliAsync(b, "collab", "job", "approve", id);
            Assert.True(ap1 == 0, approve1);
            Assert.Contains($"job {id}: approved here", approve1, StringComparison.Ordinal);
            var (ap2, approve2) = await CliAsync(b, "collab", "job", "approve", id);
            Assert.True(ap2 == 0, approve2);
            Assert.Contains($"job {id}: already approved here", approve2, StringComparison.Ordinal);
            var (code, output) = await train.WaitAsync(TimeSpan.FromSeconds(120));
            log.WriteLine(output);
            Assert.True(code == 0, output + a.Output() + b.Output());
            Assert.DoesNotContain('\u001b', output); // redirected: plain lines, no ANSI sequences
            var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(lines, l => l.StartsWith($"job {id}: vfl-train proposed to b", StringComparison.Ordinal));
            Assert.Single(lines, l => l.StartsWith($"waiting for b to approve job {id}", StringComparison.Ordinal));
            var detail = await a.GetJsonAsync($"/admin/collab/jobs/{id}");
            var stored = detail.GetProperty("epochs").EnumerateArray().ToList();
            Assert.Equal(3, stored.Count);
            var epochLines = lines.Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).ToList();
            Assert.Equal(3, epochLines.Count);
            for (var e = 0; e < 3; e++)
            {
                Assert.StartsWith(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {e + 1}/3: log loss {stored[e].GetProperty("log_loss").GetDouble():F4}, AUC {stored[e].GetProperty("auc").GetDouble():F4}, KS {stored[e].GetProperty("ks").GetDouble():F4}"),
                    epochLines[e], StringComparison.Ordinal);
            }

            Assert.True(Array.IndexOf(lines, lines.First(l => l.StartsWith("waiting for", StringComparison.Ordinal))) < Array.IndexOf(lines, epochLines[0]));
            var resultA = await a.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var h = resultA.GetProperty("holdout");
            var final = string.Create(CultureInfo.InvariantCulture,
                $"job {id} finished: 3 epochs; hold-out AUC {h.GetProperty("auc").GetDouble():F4}, KS {h.GetProperty("ks").GetDouble():F4}, log loss {h.GetProperty("log_loss").GetDouble():F4} ({h.GetProperty("rows").GetInt32()} rows, {h.GetProperty("positives").GetInt32()} positive)");
            Assert.Equal(final, lines[^1]);

            // The same idempotency key follows the same job: no second job.
            var (again, againOut) = await CliAsync(a, "collab", "train", "--peer", "b", "--own", ta, "--theirs", tb, "--epochs", "3", "--batch", "64",
                "--tolerance", "0", "--idempotency-key", "train-1");
            Assert.True(again == 0, againOut);
            Assert.Contains($"job {id}: vfl-train with b, proposed earlier with idempotency key train-1", againOut, StringComparison.Ordinal);
            Assert.Single((await a.GetJsonAsync("/admin/collab/jobs")).GetProperty("data").EnumerateArray());

            // evaluate prints the stored figures on both sides (the ad side holds the label side's three figures).
            var (ev, evOut) = await CliAsync(a, "collab", "evaluate", "--job", id);
            Assert.True(ev == 0, evOut);
            Assert.Contains(final, evOut, StringComparison.Ordinal);
            Assert.Contains(epochLines[2][..30], evOut, StringComparison.Ordinal);
            var (evB, evOutB) = await CliAsync(b, "collab", "evaluate", "--job", id);
            Assert.True(evB == 0, evOutB);
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"hold-out AUC {h.GetProperty("auc").GetDouble():F4}"), evOutB, StringComparison.Ordinal);

            // Online scoring through B's hub: the same probabilities as the admin API, with the latency.
            var guest = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_guest.csv"), new TableOptions("id", "y"));
            var host = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_host.csv"), new TableOptions("id"));
            var ids = PartyTableLoader.Intersection(guest, host);
            var asked = new[] { ids[0], ids[7], ids[100] };
            var (sc, scOut) = await CliAsync(b, "collab", "score", "--job", id, "--users", string.Join(',', asked) + ",nobody",
                "--hub", $"http://127.0.0.1:{b.HttpPort}", "--admin-token", CollabNodeProcess.AdminToken);
            Assert.True(sc == 0, scOut);
            var online = new Dictionary<string, double>();
            foreach (var user in asked)
            {
                var p = (await b.GetJsonAsync($"/admin/collab/jobs/{id}/score?user={user}")).GetProperty("probability").GetDouble();
                online[user] = p;
                Assert.Matches($@"(?m)^{user}\t{p.ToString("F6", CultureInfo.InvariantCulture)}\t[0-9.]+ ms", scOut);
            }

            Assert.Contains("nobody\t(not in this node's feature table)", scOut, StringComparison.Ordinal);
            using (var tooLong = await b.Http.GetAsync($"/admin/collab/jobs/{id}/score?user={new string('x', 257)}"))
            {
                Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
            }

            using (var tooManyBytes = await b.Http.GetAsync($"/admin/collab/jobs/{id}/score?user={Uri.EscapeDataString(new string('é', 129))}"))
            {
                Assert.Equal(HttpStatusCode.BadRequest, tooManyBytes.StatusCode); // 129 characters, 258 bytes
            }

            // Batch scoring as a vfl-score job: A (label side) proposes and follows, B approves; A writes the scores.
            var csvPath = Path.Combine(dir, "scores.csv");
            var batch = Task.Run(() => CliAsync(a, "collab", "score", "--job", id, "--table", ta, "--theirs", tb, "--out", csvPath));
            var scoreId = await ProposalOnAsync(b, "vfl-score", batch);
            var (ap3, approve3) = await CliAsync(b, "collab", "job", "approve", scoreId);
            Assert.True(ap3 == 0, approve3);
            var (bc, bcOut) = await batch.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(bc == 0, bcOut + a.Output() + b.Output());
            Assert.Contains($"job {scoreId} finished: {ids.Count} users scored", bcOut, StringComparison.Ordinal);
            var rows = (await File.ReadAllLinesAsync(csvPath)).Skip(1).Select(l => l.Split(','))
                .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
            Assert.Equal(ids.Count, rows.Count);
            foreach (var (user, p) in online)
            {
                Assert.Equal(p, rows[user], 12);
            }

            // The local reference: σ(u_G + u_H) from the two stored model parts on the training's fixed-point grid.
            var resultB = await b.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var g = guest.Align(ids);
            var hh = host.Align(ids);
            var gw = resultA.GetProperty("model").GetProperty("weights");
            var hw = resultB.GetProperty("model").GetProperty("weights");
            var intercept = resultA.GetProperty("model").GetProperty("intercept").GetDouble();
            var worst = 0.0;
            for (var row = 0; row < ids.Count; row++)
            {
                var u = intercept;
                for (var j = 0; j < g.Columns.Length; j++)
                {
                    u += gw.GetProperty(g.FeatureNames[j]).GetDouble() * FixedPoint.FeatureValue(FixedPoint.Feature(g.Columns[j][row]));
                }

                for (var j = 0; j < hh.Columns.Length; j++)
                {
                    u += hw.GetProperty(hh.FeatureNames[j]).GetDouble() * FixedPoint.FeatureValue(FixedPoint.Feature(hh.Columns[j][row]));
                }

                worst = Math.Max(worst, Math.Abs(rows[ids[row]] - 1 / (1 + Math.Exp(-u))));
            }

            Assert.True(worst < 1e-9, $"largest difference from the local reference {worst}");

            // The ad side reads counts only: its per-row scores are refused, its result has no probability.
            using (var refused = await b.Http.GetAsync($"/admin/collab/jobs/{scoreId}/scores"))
            {
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                Assert.Contains("not_entitled", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            var countsB = await b.GetJsonAsync($"/admin/collab/jobs/{scoreId}/result");
            Assert.Equal(ids.Count, countsB.GetProperty("scored").GetInt32());
            Assert.Equal(["job_id", "own_rows", "protocol", "role", "scored", "train_job"], countsB.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

            // The label side pages through its scores: bounded page size.
            using (var tooBig = await a.Http.GetAsync($"/admin/collab/jobs/{scoreId}/scores?limit=1001"))
            {
                Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
            }

            var page1 = await a.GetJsonAsync($"/admin/collab/jobs/{scoreId}/scores?limit=500");
            Assert.Equal(500, page1.GetProperty("data").GetArrayLength());
            Assert.True(page1.GetProperty("has_more").GetBoolean());
            var page2 = await a.GetJsonAsync($"/admin/collab/jobs/{scoreId}/scores?limit=500&after={page1.GetProperty("next_after").GetInt32()}");
            Assert.Equal(ids.Count - 500, page2.GetProperty("data").GetArrayLength());
            Assert.False(page2.GetProperty("has_more").GetBoolean());
            var first = page1.GetProperty("data")[0];
            Assert.Equal(rows[first.GetProperty("user").GetString()!], first.GetProperty("probability").GetDouble(), 15);

            // Partial vfl terms: only epochs given, the rest VflOptions' defaults.
            var (ps, partial) = await a.PostAsync("/admin/collab/jobs", new { peer = "b", protocol = "vfl-train", own_data_set = ta, peer_data_set = tb, ad_side = "peer", vfl = new { epochs = 3 } });
            Assert.True(ps == HttpStatusCode.Created, partial.ToString());
            var vfl = partial.GetProperty("terms").GetProperty("vfl");
            var defaults = new VflOptions();
            Assert.Equal(3, vfl.GetProperty("epochs").GetInt32());
            Assert.Equal(defaults.BatchSize, vfl.GetProperty("batch_size").GetInt32());
            Assert.Equal(defaults.LearningRate, vfl.GetProperty("learning_rate").GetDouble());
            Assert.Equal(defaults.L2, vfl.GetProperty("l2").GetDouble());
            Assert.Equal(defaults.Tolerance, vfl.GetProperty("tolerance").GetDouble());
            Assert.Equal(defaults.Seed, vfl.GetProperty("seed").GetInt32());
            Assert.Equal(defaults.HoldoutShare, vfl.GetProperty("holdout_share").GetDouble());
            var (cs, cancelled) = await a.PostAsync($"/admin/collab/jobs/{partial.GetProperty("id").GetString()}/cancel");
            Assert.True(cs == HttpStatusCode.OK, cancelled.ToString());

            // A run that fails (the two tables share no id) exits 1 with the job's reason.
            var shifted = string.Join('\n', hostCsv.Split('\n').Select((l, i) => i == 0 || l.Length == 0 ? l : "z" + l));
            var (_, otherTable) = await CollabVflTests.UploadAsync(b, "name=other-users&id_column=id", shifted);
            var failing = Task.Run(() => CliAsync(a, "collab", "train", "--peer", "b", "--own", ta, "--theirs", otherTable.GetProperty("id").GetString()!, "--epochs", "2", "--batch", "64"));
            var failId = await ProposalOnAsync(b, "vfl-train", failing, except: partial.GetProperty("id").GetString());
            var (ap4, approve4) = await CliAsync(b, "collab", "job", "approve", failId);
            Assert.True(ap4 == 0, approve4);
            var (fc, fcOut) = await failing.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(fc == 1, fcOut);
            Assert.Contains($"job {failId} failed: no_intersection:", fcOut, StringComparison.Ordinal);
            log.WriteLine($"{(postgres ? "PostgreSQL" : "SQLite")}: {watch.Elapsed.TotalSeconds:F1} s");
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

    private static async Task<(int Code, string Output)> CliAsync(CollabNodeProcess node, params string[] args)
    {
        var output = new StringWriter();
        var code = await HutongCli.RunAsync([.. args, "--cert", node.CertPath, "--store", node.Postgres ? "Postgres" : "Sqlite", "--connection", node.Connection], output);
        return (code, output.ToString());
    }

    /// <summary>The id of the job of <paramref name="protocol"/> proposed to <paramref name="node"/> and not approved there yet (the CLI run still going).</summary>
    private static async Task<string> ProposalOnAsync(CollabNodeProcess node, string protocol, Task<(int Code, string Output)> cli, string? except = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (cli.IsCompleted)
            {
                var (code, output) = await cli;
                Assert.Fail($"the CLI ended ({code}) before the peer saw its proposal:\n{output}");
            }

            foreach (var j in (await node.GetJsonAsync("/admin/collab/jobs")).GetProperty("data").EnumerateArray())
            {
                if (j.GetProperty("terms").GetProperty("protocol").GetString() == protocol && j.GetProperty("state").GetString() == "proposed"
                    && !j.GetProperty("approved_here").GetBoolean() && j.GetProperty("id").GetString() != except)
                {
                    return j.GetProperty("id").GetString()!;
                }
            }

            await Task.Delay(100);
        }

        Assert.Fail($"no {protocol} proposal reached {node.Name}\n{node.Output()}");
        return string.Empty;
    }
}
