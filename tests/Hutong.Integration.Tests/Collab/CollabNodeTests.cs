using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Hutong.Collab.Crypto;
using Hutong.Collab.Data;
using Hutong.Collab.Node;
using Hutong.Collab.Node.Wire;

namespace Hutong.Integration.Tests.Collab;

/// <summary>Two real hub processes (SQLite each) on loopback, their cooperation nodes talking gRPC over mutual TLS.</summary>
public sealed class CollabPairFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "hutong-collab-" + Guid.NewGuid().ToString("N")[..8]);

    public CollabNodeProcess A { get; private set; } = null!;

    public CollabNodeProcess B { get; private set; } = null!;

    public string Dir => _dir;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        A = await CollabNodeProcess.StartAsync("a", _dir, postgres: false);
        B = await CollabNodeProcess.StartAsync("b", _dir, postgres: false);
        await CollabNodeProcess.PairAsync(A, B);
    }

    public async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Issue 19 end to end: overlap and attribution between two hubs give exactly the plaintext join's answers; the
/// threshold refuses a too-small cohort; a job runs only once both parties approved; replayed and tampered messages are
/// refused with nothing changed; a peer presenting another certificate is refused at the TLS handshake.
/// </summary>
[Collection("crash")]
public sealed class CollabNodeTests(CollabPairFixture pair) : IClassFixture<CollabPairFixture>
{
    private static readonly SyntheticDataSets Synthetic = new();
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(90);

    // 1,000 users each, 780 shared (78 %).
    private static readonly string UsersA = SyntheticDataSets.Id("users", 0, 1000, 7);
    private static readonly string UsersB = SyntheticDataSets.Id("users", 220, 1000, 7);

    private async Task<string> ProposeAndApproveAsync(params string[] start)
    {
        var id = CollabNodeProcess.JobIdIn(await pair.A.CliAsync(["collab", "job", "start", "--peer", "b", .. start]));
        Assert.StartsWith("cj_", id, StringComparison.Ordinal);
        await pair.A.CliAsync("collab", "job", "approve", id);
        await WaitAsync(async () => (await pair.B.JobAsync(id)).ApprovedThere, "B hears A's proposal and approval");
        var (status, body) = await pair.B.PostAsync($"/admin/collab/jobs/{id}/approve");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return id;
    }

    [Fact]
    public async Task Overlap_between_two_hubs_over_mtls_equals_the_plaintext_join_and_both_get_it()
    {
        var expected = Synthetic.ReadAll(UsersA).Select(r => r.Id).Intersect(Synthetic.ReadAll(UsersB).Select(r => r.Id)).Count();
        Assert.Equal(780, expected);
        var id = await ProposeAndApproveAsync("--own", UsersA, "--theirs", UsersB, "--output-to", "both", "--buckets", "8", "--minimum-count", "10");
        Assert.Equal("finished", await pair.A.WaitForStateAsync(id, RunBound, "finished", "failed"));
        Assert.Equal("finished", await pair.B.WaitForStateAsync(id, RunBound, "finished", "failed"));

        var a = await pair.A.GetJsonAsync($"/admin/collab/jobs/{id}/result");
        Assert.True(a.GetProperty("released").GetBoolean());
        Assert.Equal(expected, a.GetProperty("count").GetInt64());
        Assert.Equal(0.78, a.GetProperty("share_of_proposer").GetDouble(), 6);
        var b = JsonDocument.Parse(await pair.B.CliAsync("collab", "job", "result", id)).RootElement;
        Assert.Equal(expected, b.GetProperty("count").GetInt64());

        // Every action is in both audit trails.
        var auditA = (await pair.A.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("audit").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Subset(auditA.ToHashSet(), new HashSet<string?> { "proposed", "proposal_sent", "approved", "approve_sent", "peer_approved", "both_approved", "started", "finished", "finish_sent" });
        Assert.True(auditA.IndexOf("both_approved") < auditA.IndexOf("started") && auditA.IndexOf("started") < auditA.IndexOf("finished"), string.Join(", ", auditA));
        var auditB = (await pair.B.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("audit").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("proposal_received", auditB);
        Assert.Contains("approved", auditB);
        Assert.Contains("finished", auditB);
    }

    [Fact]
    public async Task Attribution_per_campaign_and_group_equals_the_plaintext_join_and_only_the_ad_side_gets_it()
    {
        var exposures = SyntheticDataSets.Id("exposures", 0, 2000, 11);
        var conversions = SyntheticDataSets.Id("conversions", 300, 2000, 11);
        var values = Synthetic.ReadAll(conversions).ToDictionary(r => r.Id, r => (decimal)r.Value);
        var expected = Synthetic.ReadAll(exposures).GroupBy(CollabRunner.SegmentOf).ToDictionary(g => g.Key, g => (
            Exposed: g.Count(),
            Converters: g.Count(r => values.ContainsKey(r.Id)),
            Sum: g.Where(r => values.ContainsKey(r.Id)).Sum(r => values[r.Id]),
            Squares: g.Where(r => values.ContainsKey(r.Id)).Sum(r => values[r.Id] * values[r.Id])));
        Assert.Equal(4, expected.Count); // c1/c2 × test/control

        var id = await ProposeAndApproveAsync("--protocol", "attribution", "--ad-side", "proposer", "--own", exposures, "--theirs", conversions,
            "--output-to", "proposer", "--buckets", "4", "--minimum-count", "10", "--spend-fen", "100000");
        Assert.Equal("finished", await pair.A.WaitForStateAsync(id, RunBound, "finished", "failed"));
        var result = await pair.A.GetJsonAsync($"/admin/collab/jobs/{id}/result");
        var segments = result.GetProperty("segments").EnumerateArray().ToDictionary(s => s.GetProperty("segment").GetString()!);
        Assert.Equal(expected.Keys.Order(), segments.Keys.Order());
        foreach (var (segment, e) in expected)
        {
            var s = segments[segment];
            Assert.True(s.GetProperty("released").GetBoolean(), segment);
            Assert.Equal(e.Exposed, s.GetProperty("exposed").GetInt64());
            Assert.Equal(e.Converters, s.GetProperty("converters").GetInt64());
            Assert.Equal(e.Sum, s.GetProperty("value_sum_fen").GetDecimal());
            Assert.Equal(e.Squares, s.GetProperty("value_sum_of_squares_fen").GetDecimal());
        }

        // Known lift: 30 % of test users convert against 20 % of control users (the generator's rates), so each campaign's
        // measured relative lift is positive and its interval holds the true 50 %.
        var lifts = result.GetProperty("lift").EnumerateArray().ToList();
        Assert.Equal(2, lifts.Count);
        foreach (var l in lifts)
        {
            var rel = l.GetProperty("lift").GetProperty("relative_lift");
            Assert.InRange(0.5, rel.GetProperty("low").GetDouble(), rel.GetProperty("high").GetDouble());
        }

        // The value holder is not entitled to the answer.
        using var r = await pair.B.Http.GetAsync($"/admin/collab/jobs/{id}/result");
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Contains("not_entitled", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_threshold_above_the_overlap_refuses_to_release_it()
    {
        var id = await ProposeAndApproveAsync("--own", UsersA, "--theirs", UsersB, "--buckets", "2", "--minimum-count", "1000");
        Assert.Equal("finished", await pair.A.WaitForStateAsync(id, RunBound, "finished", "failed"));
        var result = await pair.A.GetJsonAsync($"/admin/collab/jobs/{id}/result");
        Assert.False(result.GetProperty("released").GetBoolean());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("count").ValueKind);
        Assert.Contains("below the minimum of 1000", result.GetProperty("refused_because").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_approved_by_one_party_only_does_not_run_and_the_peer_refuses_its_steps()
    {
        var id = CollabNodeProcess.JobIdIn(await pair.A.CliAsync("collab", "job", "start", "--peer", "b", "--own", UsersA, "--theirs", UsersB, "--buckets", "2"));
        await pair.A.CliAsync("collab", "job", "approve", id);
        await WaitAsync(async () => (await pair.B.JobAsync(id)).ApprovedThere, "B hears A's approval");
        await Task.Delay(TimeSpan.FromSeconds(2)); // ten runner passes on each node
        Assert.Equal(("proposed", 0, 0, true, false), await pair.A.JobAsync(id));
        Assert.Equal(("proposed", 0, 0, false, true), await pair.B.JobAsync(id));

        // Even a driver that tried would be refused: B answers no step of a job it has not approved.
        var channels = new List<GrpcChannel>();
        var client = pair.B.ClientAs(pair.A.CertPath, keep: channels);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ExchangeAsync(new Envelope
        {
            JobId = id, Step = "hello", Seq = 1, Hello = new Hello { Version = 1, ItemNum = 1000, IdRule = "opaque-trim/v1", BucketCount = 2 },
        }).ResponseAsync);
        Assert.Equal("not_approved", CollabWireErrors.CodeOf(e));
        Assert.Equal(0, await pair.B.QueryScalarAsync<long>("SELECT last_seq FROM collab_jobs WHERE id = @id", new { id }));
        Assert.False((await pair.A.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("job").TryGetProperty("error", out _));
        channels.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task Replayed_and_tampered_messages_are_refused_and_change_nothing()
    {
        var id = await ProposeAndApproveAsync("--own", UsersA, "--theirs", UsersB, "--buckets", "2", "--output-to", "both");
        Assert.Equal("finished", await pair.B.WaitForStateAsync(id, RunBound, "finished", "failed"));
        var lastSeq = await pair.B.QueryScalarAsync<long>("SELECT last_seq FROM collab_jobs WHERE id = @id", new { id });
        var resultBefore = await pair.B.QueryScalarAsync<string>("SELECT result_json FROM collab_jobs WHERE id = @id", new { id });
        Assert.True(lastSeq > 5);

        var channels = new List<GrpcChannel>();
        var client = pair.B.ClientAs(pair.A.CertPath, keep: channels); // A's own certificate: the messages come from the real peer
        var point = new byte[32];
        Span<byte> scalar = stackalloc byte[32];
        Ristretto255.RandomScalar(scalar);
        Ristretto255.MultiplyBase(scalar, point);
        Envelope Enc(long seq, byte[] ciphertext, int count, string? job = null, string step = "enc") => new()
        {
            JobId = job ?? id, Step = step, Bucket = 0, Seq = seq,
            Batch = new CipherBatch { Type = "enc", BatchIndex = 0, IsLastBatch = true, Count = count, Ciphertext = ByteString.CopyFrom(ciphertext) },
        };

        async Task<string?> Refused(Envelope e) => CollabWireErrors.CodeOf(await Assert.ThrowsAsync<RpcException>(() => client.ExchangeAsync(e).ResponseAsync));

        Assert.Equal("replayed", await Refused(Enc(lastSeq, point, 1)));
        Assert.Equal("replayed", await Refused(Enc(1, point, 1)));
        var tampered = (byte[])point.Clone();
        tampered[31] ^= 0xff; // not a canonical ristretto255 encoding any more
        Assert.Equal("bad_point", await Refused(Enc(lastSeq + 1, tampered, 1)));
        Assert.Equal("bad_point", await Refused(Enc(lastSeq + 1, new byte[32], 1))); // the identity
        Assert.Equal("bad_message", await Refused(Enc(lastSeq + 1, point, 2))); // length mismatch: 32 bytes for 2 points
        Assert.Equal("bad_message", await Refused(new Envelope { JobId = id, Step = "begin", Bucket = 99, Seq = lastSeq + 1 }));
        Assert.Equal("unknown_job", await Refused(Enc(lastSeq + 1, point, 1, job: "cj_00000000000000000000")));
        Assert.Equal("bad_step", await Refused(Enc(lastSeq + 1, point, 1, step: "steal")));
        // Well-formed and new, but the job is over.
        Assert.Equal("not_running", await Refused(Enc(lastSeq + 1, point, 1)));

        Assert.Equal(lastSeq, await pair.B.QueryScalarAsync<long>("SELECT last_seq FROM collab_jobs WHERE id = @id", new { id }));
        Assert.Equal(resultBefore, await pair.B.QueryScalarAsync<string>("SELECT result_json FROM collab_jobs WHERE id = @id", new { id }));
        Assert.Equal("finished", (await pair.B.JobAsync(id)).State);
        channels.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_peer_with_another_certificate_is_refused_at_the_handshake_and_a_wrong_pin_is_refused_by_the_client()
    {
        var strangerPath = Path.Combine(pair.Dir, "stranger.pem");
        using (var stranger = NodeIdentity.Create("stranger", TimeSpan.FromDays(1), TimeProvider.System))
        {
            NodeIdentity.Save(stranger, strangerPath);
        }

        var channels = new List<GrpcChannel>();
        var before = await pair.B.QueryScalarAsync<long>("SELECT COUNT(*) FROM collab_jobs");
        var strangerClient = pair.B.ClientAs(strangerPath, keep: channels);
        var terms = new CollabTerms("overlap", NodeIdentity.Fingerprint(NodeIdentity.Load(strangerPath)), pair.B.Fingerprint, UsersA, UsersB, "both", null, 0, null, 2, null);
        var refused = await Assert.ThrowsAsync<RpcException>(() => strangerClient.ProposeAsync(
            new JobProposal { JobId = "cj_stranger", TermsJson = terms.ToJson(), TermsSha256 = terms.Sha256() }).ResponseAsync);
        // The server refuses the client certificate in the TLS handshake (with TLS 1.3 the client sees it on its first read).
        Assert.True(refused.StatusCode is StatusCode.Unavailable or StatusCode.Internal, refused.ToString());
        Assert.IsType<HttpRequestException>(refused.Status.DebugException, exactMatch: false); // a transport failure: no RPC was served

        // A's real certificate, but the client pins a fingerprint that is not B's: A's side refuses B's server certificate.
        var wrongPin = pair.B.ClientAs(pair.A.CertPath, pin: new string('0', 64), keep: channels);
        var pinned = await Assert.ThrowsAsync<RpcException>(() => wrongPin.ProposeAsync(
            new JobProposal { JobId = "cj_wrongpin", TermsJson = "{}", TermsSha256 = "" }).ResponseAsync);
        Assert.True(pinned.StatusCode is StatusCode.Unavailable or StatusCode.Internal, pinned.ToString());
        Assert.Contains("SSL", pinned.Status.DebugException?.ToString() ?? pinned.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await pair.B.QueryScalarAsync<long>("SELECT COUNT(*) FROM collab_jobs"));
        channels.ForEach(c => c.Dispose());
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("timed out waiting until " + what);
    }
}
