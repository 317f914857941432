using System.Text.Json;
using Hutong.Collab.Node;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// Several instances of the answering party (issue 19, "a party that outgrows one machine adds instances"): three real
/// hub processes on PostgreSQL — the driver party A, and two instances of the answering party B sharing one database,
/// certificate and master key. A registers B as an address list, and its calls go round robin, so consecutive messages
/// of one bucket land on different instances: a bucket begun on one is continued on the other. Overlap and attribution
/// equal the plaintext join; killing one of B's instances mid-run still finishes with the exact answer.
/// </summary>
[Collection("crash")]
public sealed class CollabScaleOutTests
{
    private static readonly SyntheticDataSets Synthetic = new();
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task Two_instances_of_the_answering_party_share_every_bucket_and_one_may_die_mid_run()
    {
        if (Environment.GetEnvironmentVariable("HUTONG_TEST_PG") is null)
        {
            Assert.Fail("HUTONG_TEST_PG is not set: this test needs PostgreSQL (several instances of one party share its database)");
        }

        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-scale-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var debug = new Dictionary<string, string>
        {
            ["Logging__LogLevel__Hutong.Collab.Node.CollabResponder"] = "Debug", // each answered message, to see who answered
            ["Hutong__Collab__BucketPause"] = "00:00:00.150", // A: spreads a job over seconds so the kill lands mid-run
        };
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres: true, debug);
        var b1 = await CollabNodeProcess.StartAsync("b", dir, postgres: true, debug);
        var b2 = await b1.StartSiblingAsync("b2");
        try
        {
            await a.CliAsync("collab", "peer", "add", "b", $"{b1.CollabUrl}, {b2.CollabUrl}", b1.Fingerprint);
            var (status, body) = await b1.PostAsync("/admin/collab/peers", new { name = "a", url = a.CollabUrl, fingerprint = a.Fingerprint });
            Assert.True(status == System.Net.HttpStatusCode.Created, body.ToString());

            // Overlap, 78 %: exact, and both of B's instances answered messages of the job.
            var usersA = SyntheticDataSets.Id("users", 0, 2000, 5);
            var usersB = SyntheticDataSets.Id("users", 440, 2000, 5);
            var expected = Synthetic.ReadAll(usersA).Select(r => r.Id).Intersect(Synthetic.ReadAll(usersB).Select(r => r.Id)).Count();
            Assert.Equal(1560, expected);
            var overlap = await StartAsync(a, b1, "--own", usersA, "--theirs", usersB, "--buckets", "8", "--output-to", "both");
            Assert.Equal("finished", await a.WaitForStateAsync(overlap, RunBound, "finished", "failed"));
            Assert.Equal(expected, (await a.GetJsonAsync($"/admin/collab/jobs/{overlap}/result")).GetProperty("count").GetInt64());
            Assert.Equal("finished", await b2.WaitForStateAsync(overlap, RunBound, "finished", "failed")); // the shared store: either instance shows it
            Assert.Equal(expected, JsonDocument.Parse(await b2.CliAsync("collab", "job", "result", overlap)).RootElement.GetProperty("count").GetInt64());
            Assert.Contains($"of job {overlap}, bucket", b1.Output(), StringComparison.Ordinal);
            Assert.Contains($"of job {overlap}, bucket", b2.Output(), StringComparison.Ordinal);
            Assert.Equal(0, await b1.QueryScalarAsync<long>("SELECT COUNT(*) FROM collab_peer_batches WHERE job_id = @overlap", new { overlap })); // gone with the job

            // Attribution per campaign × group: exact against the plaintext join.
            var exposures = SyntheticDataSets.Id("exposures", 0, 2000, 13);
            var conversions = SyntheticDataSets.Id("conversions", 300, 2000, 13);
            var values = Synthetic.ReadAll(conversions).ToDictionary(r => r.Id, r => (decimal)r.Value);
            var segments = Synthetic.ReadAll(exposures).GroupBy(CollabRunner.SegmentOf).ToDictionary(g => g.Key, g => (
                Exposed: (long)g.Count(),
                Converters: (long)g.Count(r => values.ContainsKey(r.Id)),
                Sum: g.Where(r => values.ContainsKey(r.Id)).Sum(r => values[r.Id]),
                Squares: g.Where(r => values.ContainsKey(r.Id)).Sum(r => values[r.Id] * values[r.Id])));
            var attribution = await StartAsync(a, b1, "--protocol", "attribution", "--ad-side", "proposer", "--own", exposures, "--theirs", conversions,
                "--output-to", "proposer", "--buckets", "6", "--minimum-count", "10");
            Assert.Equal("finished", await a.WaitForStateAsync(attribution, RunBound, "finished", "failed"));
            var result = (await a.GetJsonAsync($"/admin/collab/jobs/{attribution}/result")).GetProperty("segments").EnumerateArray()
                .ToDictionary(s => s.GetProperty("segment").GetString()!, s => (
                    s.GetProperty("exposed").GetInt64(), s.GetProperty("converters").GetInt64(),
                    s.GetProperty("value_sum_fen").GetDecimal(), s.GetProperty("value_sum_of_squares_fen").GetDecimal()));
            Assert.Equal(segments.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value)),
                result.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value)));

            // Kill one of B's instances mid-run (SIGKILL): the other answers every message from then on; exact answer.
            var usersC = SyntheticDataSets.Id("users", 0, 3000, 9);
            var usersD = SyntheticDataSets.Id("users", 660, 3000, 9);
            var expectedKill = Synthetic.ReadAll(usersC).Select(r => r.Id).Intersect(Synthetic.ReadAll(usersD).Select(r => r.Id)).Count();
            var killed = await StartAsync(a, b1, "--own", usersC, "--theirs", usersD, "--buckets", "24");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while ((await a.DoneBucketsAsync(killed)).Count < 4)
            {
                Assert.True(DateTime.UtcNow < deadline, $"A did not finish 4 buckets\n{a.Output()}\n{b1.Output()}\n{b2.Output()}");
                await Task.Delay(50);
            }

            b2.Kill();
            Assert.True((await a.DoneBucketsAsync(killed)).Count < 24, "the job ended before the kill");
            Assert.Equal("finished", await a.WaitForStateAsync(killed, RunBound, "finished", "failed"));
            Assert.Equal(expectedKill, (await a.GetJsonAsync($"/admin/collab/jobs/{killed}/result")).GetProperty("count").GetInt64());
        }
        finally
        {
            await b2.DisposeAsync();
            await a.DisposeAsync();
            await b1.DisposeAsync();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<string> StartAsync(CollabNodeProcess a, CollabNodeProcess b, params string[] start)
    {
        var id = CollabNodeProcess.JobIdIn(await a.CliAsync(["collab", "job", "start", "--peer", "b", .. start]));
        await a.CliAsync("collab", "job", "approve", id);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await b.JobAsync(id)).ApprovedThere)
        {
            Assert.True(DateTime.UtcNow < deadline, $"B did not hear A's approval of {id}\n{a.Output()}\n{b.Output()}");
            await Task.Delay(100);
        }

        var (status, body) = await b.PostAsync($"/admin/collab/jobs/{id}/approve");
        Assert.True(status == System.Net.HttpStatusCode.OK, body.ToString());
        return id;
    }
}
