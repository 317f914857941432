using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Hutong.Collab.Crypto;
using Hutong.Collab.Node;
using Hutong.Collab.Node.Wire;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// Bounded peer input and failures told to the peer, two real hubs on each store: (1) the driver refuses a peer that
/// announces more items than it takes (Hutong:Collab:MaxPeerItems), fails the job with that reason and tells the peer
/// at once ("abort"): the answering side's job fails with the driver's reason instead of waiting; (2) a hostile driver
/// that sends more items than its hello announced is refused with too_many_items, the answering side fails its job with
/// the reason and keeps none of what was sent.
/// </summary>
[Collection("crash")]
public sealed class CollabPeerLimitTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_peer_past_the_announced_or_configured_item_count_fails_the_job_on_both_sides_with_the_reason(bool postgres)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-limit-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres, new Dictionary<string, string> { ["Hutong__Collab__MaxPeerItems"] = "500" });
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres);
        var channels = new List<GrpcChannel>();
        try
        {
            await CollabNodeProcess.PairAsync(a, b);

            // (1) B has 1,000 users; A takes at most 500 items of a peer. A fails at B's hello and tells B.
            var usersA = SyntheticDataSets.Id("users", 0, 400, 3);
            var usersB = SyntheticDataSets.Id("users", 100, 1000, 3);
            var id = CollabNodeProcess.JobIdIn(await a.CliAsync("collab", "job", "start", "--peer", "b", "--own", usersA, "--theirs", usersB, "--buckets", "2"));
            await a.CliAsync("collab", "job", "approve", id);
            await WaitAsync(async () => (await b.JobAsync(id)).ApprovedThere, "B hears A's approval", a, b);
            await b.PostAsync($"/admin/collab/jobs/{id}/approve");
            Assert.Equal("failed", await a.WaitForStateAsync(id, TimeSpan.FromSeconds(60), "finished", "failed"));
            var errorA = (await a.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("job").GetProperty("error").GetString();
            Assert.StartsWith("too_many_items: ", errorA, StringComparison.Ordinal);
            Assert.Contains("MaxPeerItems", errorA, StringComparison.Ordinal);
            Assert.Empty(await a.DoneBucketsAsync(id)); // nothing partial counted

            // B's job fails with A's reason within seconds (it would otherwise stay running until someone looked).
            Assert.Equal("failed", await b.WaitForStateAsync(id, TimeSpan.FromSeconds(10), "failed"));
            var jobB = await b.GetJsonAsync($"/admin/collab/jobs/{id}");
            Assert.StartsWith("peer_failed: too_many_items: ", jobB.GetProperty("job").GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Contains("peer_failed", jobB.GetProperty("audit").EnumerateArray().Select(e => e.GetProperty("action").GetString()));
            // A records abort_sent after B answered the abort, so B can be failed a moment before A's line is written.
            await WaitAsync(async () => (await a.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("audit").EnumerateArray()
                .Any(e => e.GetProperty("action").GetString() == "abort_sent"), "A records abort_sent", a, b);

            // (2) A hostile driver (a third certificate B pairs with) announces 3 items, then sends 2 + 2.
            var hostilePath = Path.Combine(dir, "hostile.pem");
            using (var cert = NodeIdentity.Create("hostile", TimeSpan.FromDays(1), TimeProvider.System))
            {
                NodeIdentity.Save(cert, hostilePath);
            }

            var hostileFp = NodeIdentity.Fingerprint(NodeIdentity.Load(hostilePath));
            var (status, body) = await b.PostAsync("/admin/collab/peers", new { name = "hostile", url = "https://127.0.0.1:9", fingerprint = hostileFp });
            Assert.True(status == System.Net.HttpStatusCode.Created, body.ToString());
            await Task.Delay(1500); // the node reloads its pinned fingerprints at most once a second
            var client = b.ClientAs(hostilePath, keep: channels);
            var terms = new CollabTerms("overlap", hostileFp, b.Fingerprint, "theirs", usersB, "proposer", null, 0, null, 2, null);
            var job = "cj_" + Guid.NewGuid().ToString("N")[..20]; // the admin routes take well-formed job ids only
            await client.ProposeAsync(new JobProposal { JobId = job, TermsJson = terms.ToJson(), TermsSha256 = terms.Sha256() });
            (status, body) = await b.PostAsync($"/admin/collab/jobs/{job}/approve");
            Assert.True(status == System.Net.HttpStatusCode.OK, body.ToString());
            await client.DecideAsync(new JobDecision { JobId = job, TermsSha256 = terms.Sha256(), Decision = "approve" });

            await client.ExchangeAsync(new Envelope { JobId = job, Step = "hello", Seq = 1, Hello = new Hello { Version = 1, ItemNum = 3, IdRule = "opaque-trim/v1", BucketCount = 2 } });
            await client.ExchangeAsync(new Envelope { JobId = job, Step = "begin", Seq = 2, Bucket = 0 });
            await client.ExchangeAsync(Enc(job, 3, 0, 2, last: false)); // 2 of the 3 announced: taken
            Assert.Equal(1, await b.QueryScalarAsync<long>("SELECT COUNT(*) FROM collab_peer_batches WHERE job_id = @job", new { job }));
            var refused = await Assert.ThrowsAsync<RpcException>(() => client.ExchangeAsync(Enc(job, 4, 1, 2, last: true)).ResponseAsync);
            Assert.Equal("too_many_items", CollabWireErrors.CodeOf(refused));
            Assert.Contains("announced 3", refused.Status.Detail, StringComparison.Ordinal);

            // B failed the job with the reason and keeps nothing of what was sent.
            var failed = (await b.GetJsonAsync($"/admin/collab/jobs/{job}")).GetProperty("job");
            Assert.Equal("failed", failed.GetProperty("state").GetString());
            Assert.StartsWith("too_many_items: ", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, await b.QueryScalarAsync<long>("SELECT COUNT(*) FROM collab_peer_batches WHERE job_id = @job", new { job }));
            Assert.Equal("not_running", CollabWireErrors.CodeOf(await Assert.ThrowsAsync<RpcException>(() => client.ExchangeAsync(Enc(job, 5, 1, 1, last: true)).ResponseAsync)));
        }
        finally
        {
            channels.ForEach(c => c.Dispose());
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

    private static Envelope Enc(string job, long seq, int batchIndex, int count, bool last)
    {
        var points = new byte[count * Ristretto255.PointBytes];
        Span<byte> scalar = stackalloc byte[32];
        for (var i = 0; i < count; i++)
        {
            Ristretto255.RandomScalar(scalar);
            Ristretto255.MultiplyBase(scalar, points.AsSpan(i * Ristretto255.PointBytes, Ristretto255.PointBytes));
        }

        return new Envelope
        {
            JobId = job, Step = "enc", Bucket = 0, Seq = seq,
            Batch = new CipherBatch { Type = "enc", BatchIndex = batchIndex, IsLastBatch = last, Count = count, Ciphertext = ByteString.CopyFrom(points) },
        };
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, CollabNodeProcess a, CollabNodeProcess b)
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

        Assert.Fail($"timed out waiting until {what}\n{a.Output()}\n{b.Output()}");
    }
}
