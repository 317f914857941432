using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Hutong.Collab.Node;
using Hutong.Collab.Node.Vfl;
using Hutong.Server.Collab.Nodes;
using Hutong.Server.Storage;
using Microsoft.Extensions.Configuration;
using Spectre.Console;

namespace Hutong.Cli;

/// <summary>
/// `hutong collab train|evaluate|score` against a node (no --local): on this node's store, as `hutong collab job …`
/// works; the running hub's node does the computing with the peer. Following a job polls the store: the peer's approval
/// (said once, plainly), every stored epoch (a progress bar per epoch on a terminal, one line per epoch otherwise), the
/// end. Online scoring goes through the ad side's running hub (its admin API), because only the running node holds the
/// job's sequence numbers and the channel to the peer.
/// </summary>
internal sealed class NodeOps(TextWriter output, IConfiguration config, Func<ParseResult, Func<Db, Task>, Task<int>> withDb)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public async Task<int> TrainAsync(ParseResult r, string? peer, string? own, string? theirs, string adSide, VflTerms terms, string? key, bool noWait,
        TimeSpan timeout, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(peer) || string.IsNullOrWhiteSpace(own) || string.IsNullOrWhiteSpace(theirs))
        {
            throw new CliUsageException("against a node, train needs --peer, --own and --theirs (or --local with --guest, --host, --out)");
        }

        if (adSide is not ("proposer" or "peer"))
        {
            throw new CliUsageException("--ad-side must be proposer or peer (the side without labels)");
        }

        if (terms.Problem() is { } problem)
        {
            throw new CliUsageException(problem);
        }

        var code = 1;
        await withDb(r, async db =>
        {
            var service = CollabCli.JobService(r, db, config);
            var job = await ProposeAndApproveAsync(service, new ProposeJobRequest(peer, CollabTerms.VflTrain, own, theirs, null, adSide, null, null, null, null) { Vfl = terms },
                key, ct);
            if (noWait)
            {
                await output.WriteLineAsync($"follow it with: hutong collab job follow {job.Id}");
                code = 0;
                return;
            }

            var end = await FollowAsync(db, job.Id, terms.Epochs, timeout, ct);
            code = await EndAsync(db, end, r, ct);
        });
        return code;
    }

    public async Task<int> EvaluateAsync(ParseResult r, string jobId, CancellationToken ct)
    {
        var code = 1;
        await withDb(r, async db =>
        {
            var store = new SqlCollabStore(db, TimeProvider.System);
            var job = await store.GetJobAsync(jobId, ct) ?? throw new CliUsageException($"no job {jobId} on this node");
            if (job.Terms.Protocol != CollabTerms.VflTrain)
            {
                throw new CliUsageException($"job {jobId} is {job.Terms.Protocol}, not vfl-train");
            }

            foreach (var e in await new SqlVflStore(db, TimeProvider.System).EpochsAsync(jobId, ct))
            {
                await output.WriteLineAsync(EpochLine(e, job.Terms.Vfl?.Epochs ?? e.Epoch));
            }

            code = await EndAsync(db, job, r, ct);
        });
        return code;
    }

    /// <summary>Online scoring: GET {hub}/admin/collab/jobs/{id}/score?user=… per user; prints the probability and the round trip.</summary>
    public async Task<int> ScoreOnlineAsync(string jobId, string users, string? hub, string? token, CancellationToken ct)
    {
        hub ??= config[$"{CollabNodeOptions.Section}:AdminUrl"];
        token ??= config["Hutong:AdminToken"];
        if (!Uri.TryCreate(hub, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            throw new CliUsageException("online scoring asks the ad side's running hub: --hub http://host:port (or Hutong:Collab:AdminUrl)");
        }

        if (string.IsNullOrEmpty(token))
        {
            throw new CliUsageException("online scoring needs the hub's admin token: --admin-token or Hutong:AdminToken (Hutong__AdminToken)");
        }

        var ids = users.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length is 0 or > 1000)
        {
            throw new CliUsageException("--users: 1–1000 comma-separated ids");
        }

        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var code = 0;
        foreach (var id in ids)
        {
            var sw = Stopwatch.StartNew();
            using var response = await http.GetAsync($"/admin/collab/jobs/{Uri.EscapeDataString(jobId)}/score?user={Uri.EscapeDataString(id)}", ct);
            var ms = sw.Elapsed.TotalMilliseconds;
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
            if (response.IsSuccessStatusCode)
            {
                var p = body.GetProperty("probability");
                await output.WriteLineAsync(p.ValueKind == JsonValueKind.Number
                    ? string.Create(CultureInfo.InvariantCulture, $"{id}\t{p.GetDouble():F6}\t{ms:F1} ms (node {body.GetProperty("ms").GetDouble():F1} ms)")
                    : string.Create(CultureInfo.InvariantCulture, $"{id}\t(not a user the label side holds)\t{ms:F1} ms"));
            }
            else if (body.TryGetProperty("code", out var c) && c.GetString() == "unknown_user")
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{id}\t(not in this node's feature table)\t{ms:F1} ms"));
            }
            else
            {
                await output.WriteLineAsync($"{id}\terror {(int)response.StatusCode}: {(body.TryGetProperty("detail", out var d) ? d.GetString() : body.ToString())}");
                code = (int)response.StatusCode is 400 or 404 ? 2 : 1;
            }
        }

        return code;
    }

    /// <summary>
    /// Batch scoring: --job a vfl-score job exports its scores; --job a finished vfl-train job with --table and --theirs
    /// proposes (and approves here) a vfl-score job with the same peer, follows it, and on the label side writes the
    /// scores to --out as CSV (user,probability); the ad side prints the counts it is told.
    /// </summary>
    public async Task<int> ScoreBatchAsync(ParseResult r, string jobId, string? table, string? theirs, string? outFile, string? key, TimeSpan timeout, CancellationToken ct)
    {
        var code = 1;
        await withDb(r, async db =>
        {
            var store = new SqlCollabStore(db, TimeProvider.System);
            var service = CollabCli.JobService(r, db, config);
            var job = await store.GetJobAsync(jobId, ct) ?? throw new CliUsageException($"no job {jobId} on this node");
            if (job.Terms.Protocol == CollabTerms.VflTrain)
            {
                if (string.IsNullOrWhiteSpace(table) || string.IsNullOrWhiteSpace(theirs))
                {
                    throw new CliUsageException("batch scoring with a vfl-train job needs --table (this node's feature table) and --theirs (the peer's); online scoring needs --users");
                }

                // This node proposes; the ad side is the same party as in the training.
                var adSide = job.IsDriver ? "peer" : "proposer";
                job = await ProposeAndApproveAsync(service, new ProposeJobRequest(job.PeerName, CollabTerms.VflScore, table, theirs, null, adSide, null, null, null, null)
                    { TrainJob = job.Id }, key, ct);
            }
            else if (job.Terms.Protocol != CollabTerms.VflScore)
            {
                throw new CliUsageException($"job {jobId} is {job.Terms.Protocol}: score takes a vfl-train or vfl-score job");
            }

            if (job.IsDriver && string.IsNullOrWhiteSpace(outFile))
            {
                throw new CliUsageException("the label side's scores need --out (a CSV file)");
            }

            job = await FollowAsync(db, job.Id, null, timeout, ct);
            if (job.State != CollabJobState.Finished)
            {
                code = await EndAsync(db, job, r, ct);
                return;
            }

            if (!job.IsDriver)
            {
                await output.WriteLineAsync($"job {job.Id} finished; the scores stay with the label side. Told here: {job.ResultJson}");
                code = 0;
                return;
            }

            var written = 0;
            await using (var csv = new StreamWriter(outFile!, append: false, new UTF8Encoding(false)))
            {
                await csv.WriteLineAsync("user,probability");
                for (var after = -1; ;)
                {
                    var page = await service.ScoresAsync(job.Id, after, CollabJobService.MaxScorePage, ct);
                    if (!page.Ok)
                    {
                        throw new CliException($"{page.Code}: {page.Message}");
                    }

                    foreach (var row in page.Value!.Take(CollabJobService.MaxScorePage))
                    {
                        await csv.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{Csv(row.UserId)},{row.Probability:R}"));
                        written++;
                        after = row.Row;
                    }

                    if (page.Value!.Count <= CollabJobService.MaxScorePage)
                    {
                        break;
                    }
                }
            }

            await output.WriteLineAsync($"job {job.Id} finished: {written} users scored; written to {outFile}");
            code = 0;
        });
        return code;
    }

    private async Task<CollabJob> ProposeAndApproveAsync(CollabJobService service, ProposeJobRequest request, string? key, CancellationToken ct)
    {
        var given = key is not null;
        key ??= Guid.NewGuid().ToString("N");
        var proposed = await service.ProposeAsync(request, "cli", ct, key);
        if (!proposed.Ok)
        {
            throw proposed.Status is 400 or 404 or 422 ? new CliUsageException($"{proposed.Code}: {proposed.Message}") : new CliException($"{proposed.Code}: {proposed.Message}");
        }

        var job = proposed.Value!;
        await output.WriteLineAsync(proposed.Status == 201
            ? $"job {job.Id}: {job.Terms.Protocol} proposed to {job.PeerName} (terms sha256 {job.TermsSha256}; idempotency key {key}{(given ? string.Empty : ": give it as --idempotency-key to follow this job again")})"
            : $"job {job.Id}: {job.Terms.Protocol} with {job.PeerName}, proposed earlier with idempotency key {key}; following it");
        var approved = await service.ApproveAsync(job.Id, "cli", ct);
        if (!approved.Ok)
        {
            throw approved.Status is 422 ? new CliUsageException($"{approved.Code}: {approved.Message}") : new CliException($"{approved.Code}: {approved.Message}");
        }

        return approved.Value!;
    }

    /// <summary>Follows a job in this node's store until it ends (or <paramref name="timeout"/>); epochs when <paramref name="epochs"/> is given.</summary>
    private async Task<CollabJob> FollowAsync(Db db, string jobId, int? epochs, TimeSpan timeout, CancellationToken ct)
    {
        var store = new SqlCollabStore(db, TimeProvider.System);
        var vfl = new SqlVflStore(db, TimeProvider.System);
        IFollowView view = VflCli.Interactive(output) ? new BarView(epochs) : new LineView(output);
        var job = (await store.GetJobAsync(jobId, ct))!;
        var deadline = Stopwatch.StartNew();
        await view.RunAsync(async () =>
        {
            var shown = 0;
            var saidWaiting = false;
            var saidApproved = false;
            while (true)
            {
                job = await store.GetJobAsync(jobId, ct) ?? throw new CliException($"job {jobId} vanished from this node's store");
                if (job.State == CollabJobState.Proposed && !job.ApprovedThere && !saidWaiting)
                {
                    await view.WaitingAsync($"waiting for {job.PeerName} to approve job {job.Id} (there: hutong collab job approve {job.Id})");
                    saidWaiting = true;
                }

                if (!saidApproved && (job.ApprovedThere || job.State is CollabJobState.Approved or CollabJobState.Running or CollabJobState.Finished))
                {
                    await view.ApprovedAsync($"{job.PeerName} approved job {job.Id}; {(job.Terms.Protocol == CollabTerms.VflTrain ? "training" : "scoring")} with {job.PeerName}");
                    saidApproved = true;
                }

                if (epochs is not null)
                {
                    var stored = await vfl.EpochsAsync(jobId, ct);
                    foreach (var e in stored.Where(e => e.Epoch > shown))
                    {
                        await view.EpochAsync(e, EpochLine(e, epochs.Value));
                        shown = e.Epoch;
                    }
                }

                if (CollabJobStates.IsFinal(job.State) || deadline.Elapsed > timeout)
                {
                    return;
                }

                await Task.Delay(Poll, ct);
            }
        });
        return job;
    }

    /// <summary>The last lines and the exit code: a finished vfl-train job's hold-out figures (0), or why it ended otherwise (1).</summary>
    private async Task<int> EndAsync(Db db, CollabJob job, ParseResult r, CancellationToken ct)
    {
        switch (job.State)
        {
            case CollabJobState.Finished when job.Terms.Protocol == CollabTerms.VflTrain:
            {
                var result = await CollabCli.JobService(r, db, config).ResultAsync(job.Id, ct);
                var root = result.Ok ? JsonDocument.Parse(result.Value!).RootElement : default;
                if (!result.Ok || !root.TryGetProperty("holdout", out var h))
                {
                    await output.WriteLineAsync($"job {job.Id} finished; no hold-out figures stored ({result.Message})");
                    return 1;
                }

                var epochs = root.GetProperty("epochs").GetInt32();
                var early = root.TryGetProperty("stopped_early", out var s) && s.ValueKind == JsonValueKind.True;
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"job {job.Id} finished: {epochs} epochs{(early ? " (stopped early)" : string.Empty)}; hold-out AUC {h.GetProperty("auc").GetDouble():F4}, KS {h.GetProperty("ks").GetDouble():F4}, log loss {h.GetProperty("log_loss").GetDouble():F4} ({h.GetProperty("rows").GetInt32()} rows, {h.GetProperty("positives").GetInt32()} positive)"));
                return 0;
            }

            case CollabJobState.Finished:
                await output.WriteLineAsync($"job {job.Id} finished");
                return 0;
            case CollabJobState.Failed or CollabJobState.Cancelled:
                await output.WriteLineAsync($"job {job.Id} {job.State.Wire()}: {job.Error ?? (job.CancelledHere ? "cancelled on this node" : "cancelled by the peer")}");
                return 1;
            default:
                await output.WriteLineAsync($"job {job.Id} is still {job.State.Wire()}; follow it with: hutong collab job follow {job.Id}");
                return 1;
        }
    }

    internal static string EpochLine(VflEpochRecord e, int of) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {e.Epoch}/{of}: log loss {e.Holdout.LogLoss:F4}, AUC {e.Holdout.Auc:F4}, KS {e.Holdout.Ks:F4} ({e.Seconds:F1} s){(e.Stopped && e.Epoch < of ? ", stopped early" : string.Empty)}");

    private static string Csv(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    private interface IFollowView
    {
        Task RunAsync(Func<Task> loop);

        Task WaitingAsync(string text);

        Task ApprovedAsync(string text);

        Task EpochAsync(VflEpochRecord epoch, string text);
    }

    /// <summary>Redirected output (a file, a pipe, a test): one plain line per event, no ANSI sequences, no redraws.</summary>
    private sealed class LineView(TextWriter output) : IFollowView
    {
        public Task RunAsync(Func<Task> loop) => loop();

        public Task WaitingAsync(string text) => output.WriteLineAsync(text);

        public Task ApprovedAsync(string text) => output.WriteLineAsync(text);

        public Task EpochAsync(VflEpochRecord epoch, string text) => output.WriteLineAsync(text);
    }

    /// <summary>A terminal: Spectre.Console's live progress, a line for the approval and a bar per finished epoch beside the overall bar.</summary>
    private sealed class BarView(int? epochs) : IFollowView
    {
        private ProgressContext? _ctx;
        private ProgressTask? _approval;
        private ProgressTask? _overall;

        public Task RunAsync(Func<Task> loop) => AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                _ctx = ctx;
                if (epochs is { } n)
                {
                    _overall = ctx.AddTask($"epochs 0/{n}", maxValue: n);
                }

                await loop();
                _overall?.StopTask();
            });

        public Task WaitingAsync(string text)
        {
            _approval = _ctx!.AddTaskBefore(Markup.Escape(text), _overall ?? _ctx.AddTask("working", maxValue: 1)).IsIndeterminate();
            return Task.CompletedTask;
        }

        public Task ApprovedAsync(string text)
        {
            if (_approval is null)
            {
                _approval = _overall is null ? _ctx!.AddTask(Markup.Escape(text), maxValue: 1) : _ctx!.AddTaskBefore(Markup.Escape(text), _overall, maxValue: 1);
            }

            _approval.Description = Markup.Escape(text);
            _approval.IsIndeterminate = false;
            _approval.Value = _approval.MaxValue;
            _approval.StopTask();
            return Task.CompletedTask;
        }

        public Task EpochAsync(VflEpochRecord epoch, string text)
        {
            var bar = _overall is null ? _ctx!.AddTask(Markup.Escape(text), maxValue: 1) : _ctx!.AddTaskBefore(Markup.Escape(text), _overall, maxValue: 1);
            bar.Value = 1;
            bar.StopTask();
            if (_overall is not null)
            {
                _overall.Value = epoch.Stopped ? _overall.MaxValue : epoch.Epoch;
                _overall.Description = $"epochs {epoch.Epoch}/{epochs}";
            }

            return Task.CompletedTask;
        }
    }
}
