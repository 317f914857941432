using System.Text.Json;
using Hutong.Collab.Node;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// A job survives SIGKILL of either party mid-run, on either store: the computing party resumes at the first bucket
/// not done (the buckets finished before the kill are not computed again), the answering party's restart costs the
/// bucket in flight only (the driver retries with bounded backoff), and the answer equals the plaintext join.
/// </summary>
[Collection("crash")]
public sealed class CollabResumeTests
{
    private static readonly SyntheticDataSets Synthetic = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_job_survives_killing_each_party_mid_run_and_finishes_with_the_exact_answer(bool postgres)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hutong-collab-resume-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var slow = new Dictionary<string, string>
        {
            ["Hutong__Collab__BucketPause"] = "00:00:00.250", // spreads the job over seconds so the kills land mid-run
            ["Hutong__Collab__BucketLease"] = "00:00:03", // a dead instance's bucket is free again 3 s after its claim
        };
        var a = await CollabNodeProcess.StartAsync("a", dir, postgres, slow);
        var b = await CollabNodeProcess.StartAsync("b", dir, postgres, slow);
        try
        {
            await CollabNodeProcess.PairAsync(a, b);
            var usersA = SyntheticDataSets.Id("users", 0, 4000, 3);
            var usersB = SyntheticDataSets.Id("users", 880, 4000, 3);
            var expected = Synthetic.ReadAll(usersA).Select(r => r.Id).Intersect(Synthetic.ReadAll(usersB).Select(r => r.Id)).Count();
            Assert.Equal(3120, expected); // 78 %

            var id = CollabNodeProcess.JobIdIn(await a.CliAsync("collab", "job", "start", "--peer", "b", "--own", usersA, "--theirs", usersB, "--buckets", "24", "--output-to", "both"));
            await a.CliAsync("collab", "job", "approve", id);
            await WaitAsync(async () => (await b.JobAsync(id)).ApprovedThere, "B hears A's approval", a, b);
            await b.CliAsync("collab", "job", "approve", id);

            // Kill the computing party (A) once it finished a few buckets.
            await WaitAsync(async () => (await a.DoneBucketsAsync(id)).Count >= 4, "A finished 4 buckets", a, b);
            a.Kill();
            var doneAtKill = await a.DoneBucketsAsync(id);
            Assert.True(doneAtKill.Count < 24, "the job ended before the kill");
            await a.StartProcessAsync();

            // Kill the answering party (B) a few buckets later; A keeps retrying until B is back.
            await WaitAsync(async () => (await a.DoneBucketsAsync(id)).Count >= doneAtKill.Count + 4, "A resumed and finished 4 more buckets", a, b);
            b.Kill();
            await Task.Delay(1500); // A meets a dead peer and backs off
            await b.StartProcessAsync();

            Assert.Equal("finished", await a.WaitForStateAsync(id, TimeSpan.FromSeconds(120), "finished", "failed"));
            var result = await a.GetJsonAsync($"/admin/collab/jobs/{id}/result");
            Assert.Equal(expected, result.GetProperty("count").GetInt64());
            Assert.Equal(expected, JsonDocument.Parse(await b.CliAsync("collab", "job", "result", id)).RootElement.GetProperty("count").GetInt64());

            // Resumed, not restarted: the buckets done before the kill were not computed again, and the job started once.
            var doneAtEnd = await a.DoneBucketsAsync(id);
            Assert.Equal(24, doneAtEnd.Count);
            Assert.All(doneAtKill, d => Assert.Contains(d, doneAtEnd));
            var audit = (await a.GetJsonAsync($"/admin/collab/jobs/{id}")).GetProperty("audit").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
            Assert.Single(audit, x => x == "started");
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

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, CollabNodeProcess a, CollabNodeProcess b)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
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
