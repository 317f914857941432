using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Hutong.Collab.Node;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Protocol;
using Hutong.Collab.Vfl.Tests;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// Issue 20's wire inspection between two real hub processes: both nodes record every gRPC message body they send and
/// receive on the cooperation transport (Hutong:Collab:WireCaptureFile — the bytes between gRPC and TLS, see
/// <see cref="WireCapture"/>) while they train a vfl-train job on the breast data set and answer online asks. Then
/// everything each node sent is searched, at every offset, for the plaintexts neither may send: both parties' features
/// (as doubles, as the fixed-point integers the protocol encodes, as the CSV text they come from), the labels, and every
/// batch's residual terms, residuals and gradients (replayed in the clear with the protocol's arithmetic; the replay's
/// weights equal both stored model parts bit for bit, so it is this run). The same search finds the plaintexts the
/// protocol does send (online scoring's partial score and probability) and planted ones; the two nodes' records agree
/// byte for byte (what A sent is what B received).
/// </summary>
[Collection("crash")]
public sealed class CollabVflWireTests(ITestOutputHelper output)
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "data", "vertical");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Between_two_hubs_neither_node_sends_features_labels_residuals_or_gradients_in_the_clear(bool postgres)
    {
        var watch = Stopwatch.StartNew();
        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-vflwire-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var captureA = Path.Combine(dir, "a.wire");
        var captureB = Path.Combine(dir, "b.wire");
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres, new Dictionary<string, string> { ["Hutong__Collab__WireCaptureFile"] = captureA, ["Logging__LogLevel__Hutong.Collab"] = "Information" });
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres, new Dictionary<string, string> { ["Hutong__Collab__WireCaptureFile"] = captureB, ["Logging__LogLevel__Hutong.Collab"] = "Information" });
        try
        {
            await CollabNodeProcess.PairAsync(a, b);
            var guestCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_guest.csv"));
            var hostCsv = await File.ReadAllTextAsync(Path.Combine(DataDir, "breast_hetero_host.csv"));
            var (s1, guestTable) = await CollabVflTests.UploadAsync(a, "name=breast-guest&id_column=id&label_column=y", guestCsv);
            Assert.True(s1 == HttpStatusCode.Created, guestTable.ToString());
            var (s2, hostTable) = await CollabVflTests.UploadAsync(b, "name=breast-host&id_column=id", hostCsv);
            Assert.True(s2 == HttpStatusCode.Created, hostTable.ToString());

            var options = new VflOptions { Epochs = 3, BatchSize = 64, LearningRate = 0.3, L2 = 0.001, Tolerance = 0, Seed = 20, HoldoutShare = 0.2 };
            var id = await CollabVflTests.TrainAsync(a, b, guestTable, hostTable, options);
            Assert.Equal("finished", await a.WaitForStateAsync(id, TimeSpan.FromSeconds(90), "finished", "failed"));
            Assert.Equal("finished", await b.WaitForStateAsync(id, TimeSpan.FromSeconds(30), "finished", "failed"));

            var guest = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_guest.csv"), new TableOptions("id", "y"));
            var host = PartyTableLoader.Load(Path.Combine(DataDir, "breast_hetero_host.csv"), new TableOptions("id"));
            var ids = PartyTableLoader.Intersection(guest, host);
            var g = guest.Align(ids);
            var h = host.Align(ids);
            var resultA = await a.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            var resultB = await b.GetJsonAsync($"/admin/collab/jobs/{id}/result");

            // Online asks from the ad side: the protocol sends u_H (B → A) and the probability (A → B) in the clear.
            var hw = resultB.GetProperty("model").GetProperty("weights");
            var asked = new List<(double UH, double P)>();
            foreach (var user in new[] { guest.Ids[0], guest.Ids[5], guest.Ids[77] })
            {
                var row = host.Ids.ToList().IndexOf(user);
                var uH = 0.0; // as the ad side's model part computes it (VflModelPart.PartialScore)
                for (var j = 0; j < host.Columns.Length; j++)
                {
                    uH += hw.GetProperty(host.FeatureNames[j]).GetDouble() * FixedPoint.FeatureValue(FixedPoint.Feature(host.Columns[j][row]));
                }

                var score = await b.GetJsonAsync($"/admin/collab/jobs/{id}/score?user={Uri.EscapeDataString(user)}");
                asked.Add((uH, score.GetProperty("probability").GetDouble()));
            }

            // The two records, each node's own. What one sent is, byte for byte, what the other received.
            var ra = WireCapture.Read(captureA);
            var rb = WireCapture.Read(captureB);
            static List<string> Digests(IEnumerable<WireRecord> records, bool sent, bool asClient) =>
                [.. records.Where(r => r.Sent == sent && r.AsClient == asClient).Select(r => r.Path + ":" + Convert.ToHexString(SHA256.HashData(r.Body))).Order(StringComparer.Ordinal)];
            Assert.Equal(Digests(ra, sent: true, asClient: true), Digests(rb, sent: false, asClient: false));   // A's requests, B's server
            Assert.Equal(Digests(rb, sent: true, asClient: false), Digests(ra, sent: false, asClient: true));   // B's answers, A's client
            Assert.Equal(Digests(rb, sent: true, asClient: true), Digests(ra, sent: false, asClient: false));   // B's requests (approval, asks)
            Assert.Equal(Digests(ra, sent: true, asClient: false), Digests(rb, sent: false, asClient: true));

            // Every body is gRPC frames, none compressed (so the search reads the serialized messages themselves), and
            // every Exchange frame is an Envelope; the training's messages are all there.
            var vflMessages = new List<(bool FromA, VflMessage Message)>();
            foreach (var (records, isA) in new[] { (ra, true), (rb, false) })
            {
                foreach (var r in records.Where(r => r.Sent))
                {
                    foreach (var (compressed, message) in WireCapture.Frames(r.Body))
                    {
                        Assert.False(compressed, "a compressed gRPC frame: the search would not see its plaintexts");
                        if (r.Path.EndsWith("/Exchange", StringComparison.Ordinal) && Envelope.Parser.ParseFrom(message) is { Step: "vfl" } e)
                        {
                            vflMessages.AddRange(e.Vfl.Messages.Select(m => (isA, VflMessage.Parse(m.Span))));
                        }
                    }
                }
            }

            var batches = options.Epochs * (int)Math.Ceiling(options.Split(ids.Count).Train.Length / (double)options.BatchSize);
            Assert.Equal(batches, vflMessages.Count(m => m.FromA && m.Message.Type == VflMessageType.ResidualTerms));
            Assert.Equal(batches, vflMessages.Count(m => !m.FromA && m.Message.Type == VflMessageType.ResidualTerms));
            Assert.All(vflMessages.Where(m => m.Message.Type is VflMessageType.ResidualTerms or VflMessageType.MaskedGradient),
                m => Assert.All(m.Message.Items, i => Assert.Equal(512, i.Length)));

            // Every batch's plaintexts, replayed; the replay is this run (its weights are both stored parts, bit for bit).
            var replay = WireSearchReplay(g, h, options);
            var gw = resultA.GetProperty("model").GetProperty("weights");
            Assert.Equal((IEnumerable<double>)replay.GuestWeights,
                new[] { resultA.GetProperty("model").GetProperty("intercept").GetDouble() }.Concat(g.FeatureNames.Select(n => gw.GetProperty(n).GetDouble())));
            Assert.Equal((IEnumerable<double>)replay.HostWeights, h.FeatureNames.Select(n => hw.GetProperty(n).GetDouble()));

            var train = options.Split(ids.Count).Train;
            var alignedOrder = Enumerable.Range(0, ids.Count).ToArray();
            var secret = new List<Needle>();
            secret.AddRange(WireSearch.FeatureDoubles("the label side", guest.Columns));
            secret.AddRange(WireSearch.FeatureDoubles("the ad side", host.Columns));
            secret.AddRange(WireSearch.FeatureFixedPoint("the label side", guest.Columns, [.. Enumerable.Range(0, guest.Rows)]));
            secret.AddRange(WireSearch.FeatureFixedPoint("the label side", g.Columns, alignedOrder));
            secret.AddRange(WireSearch.FeatureFixedPoint("the ad side", host.Columns, [.. Enumerable.Range(0, host.Rows)]));
            secret.AddRange(WireSearch.FeatureFixedPoint("the ad side", h.Columns, alignedOrder));
            secret.AddRange(WireSearch.CsvText("the label side", guestCsv));
            secret.AddRange(WireSearch.CsvText("the ad side", hostCsv));
            secret.AddRange(WireSearch.Labels(guest.Labels!, [.. Enumerable.Range(0, guest.Rows)]));
            secret.AddRange(WireSearch.Labels(g.Labels!, alignedOrder));
            for (var epoch = 0; epoch < options.Epochs; epoch++)
            {
                secret.AddRange(WireSearch.Labels(g.Labels!, options.EpochOrder(train, epoch)));
            }

            secret.AddRange(WireSearch.Residuals("a label-side residual term", replay.GuestTerms));
            secret.AddRange(WireSearch.Residuals("an ad-side residual term", replay.HostTerms));
            secret.AddRange(WireSearch.Residuals("a residual", replay.Residuals));
            secret.AddRange(WireSearch.Gradients("a label-side gradient", replay.GuestGradients));
            secret.AddRange(WireSearch.Gradients("an ad-side gradient", replay.HostGradients));

            var sentA = ra.Where(r => r.Sent).SelectMany(r => r.Body).ToArray();
            var sentB = rb.Where(r => r.Sent).SelectMany(r => r.Body).ToArray();
            WireSearch.AssertAbsent(sentA, secret, "A (label side) → B");
            WireSearch.AssertAbsent(sentB, secret, "B (ad side) → A");

            // The search can fail. (1) It finds what the protocol does send in the clear: each ask's u_H in B's bytes, each
            // answer's probability in A's. (2) It finds planted plaintexts of every kind, where they were planted.
            foreach (var (uH, p) in asked)
            {
                Assert.NotEmpty(WireSearch.Find(sentB, [new Needle("u_H", VflMessage.Double(uH))]));
                Assert.NotEmpty(WireSearch.Find(sentA, [new Needle("p", VflMessage.Double(p))]));
                Assert.Empty(WireSearch.Find(sentA, [new Needle("u_H", VflMessage.Double(uH))]));
            }

            var kinds = new[] { "feature", "fixed point", "CSV line", "CSV field", "labels as bytes", "labels as text", "residual term", "gradient", "with the offset" };
            var rng = new Random(11);
            var offsets = kinds.Select(_ => rng.Next(sentA.Length)).Order().ToArray();
            var planted = new List<byte>(sentA.Length + 1024);
            var plants = new List<(Needle Needle, int At)>();
            for (var k = 0; k < kinds.Length; k++)
            {
                var n = secret.First(s => s.What.Contains(kinds[k], StringComparison.Ordinal));
                planted.AddRange(sentA[(k == 0 ? 0 : offsets[k - 1])..offsets[k]]);
                plants.Add((n, planted.Count));
                planted.AddRange(n.Bytes);
            }

            planted.AddRange(sentA[offsets[^1]..]);
            var found = WireSearch.Find([.. planted], secret);
            Assert.All(plants, x => Assert.Contains(found, f => f.At == x.At && f.Needle.Bytes.AsSpan().SequenceEqual(x.Needle.Bytes)));
            Assert.Throws<Xunit.Sdk.TrueException>(() => WireSearch.AssertAbsent([.. planted], secret, "planted"));

            output.WriteLine($"{(postgres ? "PostgreSQL" : "SQLite")}: {ra.Count} + {rb.Count} recorded bodies, {sentA.Length:N0} bytes A → B, {sentB.Length:N0} bytes B → A; " +
                $"{secret.Count:N0} plaintext encodings searched at every offset, none found; {plants.Count} planted, all found; {watch.Elapsed.TotalSeconds:F1} s");
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

    private static VflPlaintexts WireSearchReplay(AlignedData g, AlignedData h, VflOptions options) =>
        VflPlaintexts.Replay(g.Columns, h.Columns, g.Labels!, options);
}
