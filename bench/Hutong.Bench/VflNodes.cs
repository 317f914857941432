using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Hutong.Collab.Node;
using Hutong.Collab.Vfl.Crypto;
using Hutong.Collab.Vfl.Data;

/// <summary>
/// Vertical federated learning between two hub processes on this machine (issue 20): each a hub of its own (the
/// benchmark started again with <c>--child hub</c>, SQLite, its cooperation node on a loopback port with mutual TLS),
/// paired, each with its own feature table, a vfl-train job both approve. <c>--only vfl-online</c>: a small job (breast),
/// then online asks from the ad side — HTTP to its hub, gRPC over mTLS to the label side and back — p50/p99 against the
/// target p99 ≤ 50 ms. <c>--only vfl-nodes</c>: default_credit between the two processes, seconds per epoch against the
/// floor the two parties' homomorphic operations (counted in the children) set at this run's measured rates.
/// </summary>
internal static class VflNodesBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task OnlineAsync(int asks)
    {
        Console.WriteLine($"Online scoring between two hub processes (vfl-train job on breast, 569 rows; {asks:N0} asks from the ad side, one at a time) — {Environment.ProcessorCount} cores; {Load()}");
        await using var pair = await NodePair.StartAsync();
        var dir = VflBench.DataDir();
        var id = await pair.TrainAsync(
            await File.ReadAllTextAsync(Path.Combine(dir, "breast_hetero_guest.csv")), await File.ReadAllTextAsync(Path.Combine(dir, "breast_hetero_host.csv")),
            new { epochs = 3, batch_size = 64, learning_rate = 0.3, l2 = 0.001, tolerance = 0.0, seed = 20, holdout_share = 0.2 });
        var users = PartyTableLoader.Load(Path.Combine(dir, "breast_hetero_host.csv"), new TableOptions("id")).Ids;

        var rng = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            await pair.AskAsync(id, users[rng.Next(users.Count)]); // warm-up: connections, JIT, the two model parts loaded
        }

        var latencies = new List<double>(asks);
        for (var i = 0; i < asks; i++)
        {
            var t = Stopwatch.GetTimestamp();
            await pair.AskAsync(id, users[rng.Next(users.Count)]);
            latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        latencies.Sort();
        var p50 = latencies[latencies.Count / 2];
        var p99 = latencies[(int)(latencies.Count * 0.99)];
        Console.WriteLine(string.Create(Inv,
            $"{"online scoring p50 / p99 / max ms (HTTP → ad side → gRPC/mTLS → label side)",-60} {p50,10:F2} {p99,8:F2} {latencies[^1],8:F2}   (target p99 ≤ 50 ms: {(p99 <= 50 ? "met" : "NOT met")})"));
        Console.WriteLine($"  {Load()}");
    }

    public static async Task NodesAsync(int epochs, int batch, int rows)
    {
        Console.WriteLine($"Vertical federated learning between two hub processes (default_credit, {(rows > 0 ? rows.ToString("N0", Inv) + " rows" : "all rows")}, batch {batch}, {epochs} epochs) — {Environment.ProcessorCount} cores; {Load()}");
        var (encRate, decRate, multRate, invRate) = VflBench.Ceilings();
        var dir = VflBench.DataDir();
        var (guestCsv, hostCsv) = Subsample(Path.Combine(dir, "default_credit_hetero_guest.csv"), Path.Combine(dir, "default_credit_hetero_host.csv"), rows);
        await using var pair = await NodePair.StartAsync();
        var ops0 = Sum(pair.A.HeOps, pair.B.HeOps);
        var sw = Stopwatch.StartNew();
        var id = await pair.TrainAsync(guestCsv, hostCsv, new { epochs, batch_size = batch, learning_rate = 0.3, l2 = 0.001, tolerance = 0.0, seed = 20, holdout_share = 0.2 });
        var total = sw.Elapsed.TotalSeconds;
        await Task.Delay(1200); // the children's last counter reports
        var ops = Sum(pair.A.HeOps, pair.B.HeOps) - ops0;
        var result = await pair.GetAsync(pair.A, $"/admin/collab/jobs/{id}/result");
        var perEpoch = result.GetProperty("progress").EnumerateArray().Select(e => e.GetProperty("seconds").GetDouble()).ToList();
        var trainRows = (int)Math.Round(result.GetProperty("intersection").GetInt32() * 0.8);
        var floor = (ops.Encryptions / encRate + ops.Decryptions / decRate + ops.Multiplications / multRate + ops.Inversions / invRate) / perEpoch.Count;
        var mean = perEpoch.Average();
        Console.WriteLine(string.Create(Inv, $"{$"training {trainRows:N0} rows: s per epoch on the label side (mean; each)",-60} {mean,10:F2}   ({string.Join(", ", perEpoch.Select(s => s.ToString("F1", Inv)))})"));
        Console.WriteLine(string.Create(Inv, $"{"  job total s (upload excluded: propose, approve, align, train, evaluate)",-60} {total,10:F2}"));
        Console.WriteLine(string.Create(Inv,
            $"{"  HE ops per epoch, both processes: enc, dec, mults, inversions",-60} {ops.Encryptions / perEpoch.Count,10:N0} {ops.Decryptions / perEpoch.Count,8:N0} {ops.Multiplications / perEpoch.Count,12:N0} {ops.Inversions / perEpoch.Count,8:N0}"));
        Console.WriteLine(string.Create(Inv,
            $"{"  floor at this run's all-core rates, s per epoch",-60} {floor,10:F2}   ratio {mean / floor:F2}× (target ≤ 1.5×: {(mean / floor <= 1.5 ? "met" : "NOT met")})"));
        Console.WriteLine(string.Create(Inv, $"{"  holdout AUC / KS / log loss, federated",-60} {result.GetProperty("holdout").GetProperty("auc").GetDouble(),10:F4} {result.GetProperty("holdout").GetProperty("ks").GetDouble(),8:F4} {result.GetProperty("holdout").GetProperty("log_loss").GetDouble(),8:F4}"));
        Console.WriteLine($"  {Load()}");
    }

    private static HeOpCount Sum(HeOpCount a, HeOpCount b) =>
        new(a.Encryptions + b.Encryptions, a.Decryptions + b.Decryptions, a.Multiplications + b.Multiplications, a.Inversions + b.Inversions);

    private static (string Guest, string Host) Subsample(string guestPath, string hostPath, int rows)
    {
        var guestLines = File.ReadAllLines(guestPath);
        var hostLines = File.ReadAllLines(hostPath);
        if (rows <= 0)
        {
            return (string.Join('\n', guestLines), string.Join('\n', hostLines));
        }

        // The seeded pick of the in-process benchmark and tests: Random(7) over the ordinal intersection.
        var pick = PartyTableLoader.Intersection(PartyTableLoader.Load(guestPath, new TableOptions("id", "y")), PartyTableLoader.Load(hostPath, new TableOptions("id"))).ToArray();
        new Random(7).Shuffle(pick);
        var keep = pick.Take(rows).ToHashSet(StringComparer.Ordinal);
        string Keep(string[] lines) => string.Join('\n', [lines[0], .. lines.Skip(1).Where(l => keep.Contains(l[..l.IndexOf(',', StringComparison.Ordinal)]))]);
        return (Keep(guestLines), Keep(hostLines));
    }

    internal static string Load()
    {
        try
        {
            var f = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"load average {f[0]}, {f[1]}, {f[2]} (uptime)";
        }
        catch (IOException)
        {
            return "load average n/a";
        }
    }

    /// <summary>Two hub children with their cooperation nodes paired; A holds labels (drives), B is the ad side.</summary>
    private sealed class NodePair : IAsyncDisposable
    {
        private readonly string _dir;
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

        private NodePair(string dir, Child a, Child b) => (_dir, A, B) = (dir, a, b);

        public Child A { get; }

        public Child B { get; }

        public static async Task<NodePair> StartAsync()
        {
            var dir = Path.Combine(Path.GetTempPath(), "hutong-bench-vfl-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(dir);
            var nodes = new List<(Child Child, string Url, string Fingerprint)>();
            foreach (var name in new[] { "a", "b" })
            {
                var cert = NodeIdentity.Create("bench-node-" + name, TimeSpan.FromDays(1), TimeProvider.System);
                var certPath = Path.Combine(dir, name + ".pem");
                NodeIdentity.Save(cert, certPath);
                var port = FreePort();
                var child = await Child.HubAsync(new Dictionary<string, string?>
                {
                    ["Store:Provider"] = "Sqlite",
                    ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir, name + ".db")}",
                    ["Hutong:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                    ["Hutong:Reconciliation:Enabled"] = "false",
                    ["Hutong:Collab:Port"] = port.ToString(CultureInfo.InvariantCulture),
                    ["Hutong:Collab:ListenAddress"] = "127.0.0.1",
                    ["Hutong:Collab:CertificatePath"] = certPath,
                    ["Hutong:Collab:PollInterval"] = "00:00:00.200",
                    ["Hutong:Collab:RetryFirst"] = "00:00:00.100",
                    ["Hutong:Collab:RetryMax"] = "00:00:01",
                });
                nodes.Add((child, $"https://127.0.0.1:{port}", NodeIdentity.Fingerprint(cert)));
            }

            var pair = new NodePair(dir, nodes[0].Child, nodes[1].Child);
            await pair.PostAsync(pair.A, "/admin/collab/peers", new { name = "b", url = nodes[1].Url, fingerprint = nodes[1].Fingerprint });
            await pair.PostAsync(pair.B, "/admin/collab/peers", new { name = "a", url = nodes[0].Url, fingerprint = nodes[0].Fingerprint });
            return pair;
        }

        /// <summary>Uploads the two tables, proposes on A, both approve; returns once both stored the job finished.</summary>
        public async Task<string> TrainAsync(string guestCsv, string hostCsv, object vfl)
        {
            var guest = await UploadAsync(A, "name=guest&id_column=id&label_column=y", guestCsv);
            var host = await UploadAsync(B, "name=host&id_column=id", hostCsv);
            var job = await PostAsync(A, "/admin/collab/jobs", new
            {
                peer = "b", protocol = "vfl-train", own_data_set = guest.GetProperty("id").GetString(), peer_data_set = host.GetProperty("id").GetString(), ad_side = "peer", vfl,
            });
            var id = job.GetProperty("id").GetString()!;
            await PostAsync(A, $"/admin/collab/jobs/{id}/approve", new { });
            await WaitAsync(B, id, j => j.GetProperty("job").GetProperty("approved_there").GetBoolean(), TimeSpan.FromSeconds(60));
            await PostAsync(B, $"/admin/collab/jobs/{id}/approve", new { });
            foreach (var node in new[] { A, B })
            {
                await WaitAsync(node, id, j => j.GetProperty("job").GetProperty("state").GetString() switch
                {
                    "finished" => true,
                    "failed" or "cancelled" => throw new InvalidOperationException($"the vfl-train job ended {j}"),
                    _ => false,
                }, TimeSpan.FromMinutes(30));
            }

            return id;
        }

        public async Task AskAsync(string id, string user)
        {
            using var r = await SendAsync(HttpMethod.Get, B, $"/admin/collab/jobs/{id}/score?user={Uri.EscapeDataString(user)}", null);
            if (r.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"score {user}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            }
        }

        public async Task<JsonElement> GetAsync(Child node, string path)
        {
            using var r = await SendAsync(HttpMethod.Get, node, path, null);
            var text = await r.Content.ReadAsStringAsync();
            return r.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"GET {path}: {(int)r.StatusCode} {text}");
        }

        private async Task WaitAsync(Child node, string id, Func<JsonElement, bool> done, TimeSpan within)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < within)
            {
                using (var r = await SendAsync(HttpMethod.Get, node, $"/admin/collab/jobs/{id}", null))
                {
                    var text = await r.Content.ReadAsStringAsync();
                    if (r.StatusCode != HttpStatusCode.NotFound) // the peer has not heard of the proposal yet
                    {
                        if (!r.IsSuccessStatusCode)
                        {
                            throw new InvalidOperationException($"GET job {id}: {(int)r.StatusCode} {text}");
                        }

                        if (done(JsonDocument.Parse(text).RootElement))
                        {
                            return;
                        }
                    }
                }

                await Task.Delay(200);
            }

            throw new TimeoutException($"job {id} not there within {within}");
        }

        private async Task<JsonElement> UploadAsync(Child node, string query, string csv)
        {
            using var r = await SendAsync(HttpMethod.Post, node, "/admin/collab/vfl/tables?" + query, new StringContent(csv, Encoding.UTF8, "text/csv"));
            var text = await r.Content.ReadAsStringAsync();
            return r.StatusCode == HttpStatusCode.Created ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"upload: {(int)r.StatusCode} {text}");
        }

        private async Task<JsonElement> PostAsync(Child node, string path, object body)
        {
            using var r = await SendAsync(HttpMethod.Post, node, path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
            var text = await r.Content.ReadAsStringAsync();
            return r.IsSuccessStatusCode ? (text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone()) : throw new InvalidOperationException($"POST {path}: {(int)r.StatusCode} {text}");
        }

        private Task<HttpResponseMessage> SendAsync(HttpMethod method, Child node, string path, HttpContent? content)
        {
            var request = new HttpRequestMessage(method, node.BaseUrl + path) { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BenchHub.AdminToken);
            if (method != HttpMethod.Get)
            {
                request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
            }

            return _http.SendAsync(request);
        }

        private static int FreePort()
        {
            using var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return ((IPEndPoint)l.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
            _http.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
