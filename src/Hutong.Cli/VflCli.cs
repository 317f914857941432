using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hutong.Collab.Node;
using Hutong.Collab.Vfl;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Protocol;
using Hutong.Server.Collab.Nodes;
using Hutong.Server.Storage;
using Microsoft.Extensions.Configuration;
using Spectre.Console;

namespace Hutong.Cli;

/// <summary>
/// `hutong collab train|evaluate|score`: the joint conversion model (issue 20). With --local both parties run in this
/// process over an in-process channel, each party's checkpoint (its own weights only) written to --out after every
/// epoch. Without --local they work on this node's store, as the other `hutong collab …` node commands do (--store,
/// --connection, --cert): train proposes and approves a vfl-train job and follows it until it ends (the running hub's
/// node trains with the peer); evaluate prints a finished job's stored figures; score asks the ad side's running hub for
/// online scores (--hub, admin token), or runs a vfl-score job (batch scoring) and writes the label side's scores as CSV.
/// Exit codes: 0 the job finished, 1 it failed or was cancelled (the reason printed), 2 bad input.
/// </summary>
internal static class VflCli
{
    /// <summary>Adds train, evaluate and score (the joint conversion model) to the collab group.</summary>
    public static Command AddTo(Command group, TextWriter output, IConfiguration config, Func<ParseResult, Func<Db, Task>, Task<int>> withDb)
    {
        ArgumentNullException.ThrowIfNull(group);
        var node = new NodeOps(output, config, withDb);
        group.Subcommands.Add(Train(output, node));
        group.Subcommands.Add(Evaluate(output, node));
        group.Subcommands.Add(Score(output, node));
        return group;
    }

    /// <summary>Whether the output is a terminal a live progress bar may redraw; otherwise one plain line per event.</summary>
    internal static bool Interactive(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    internal static IAnsiConsole ConsoleFor(TextWriter output) => Interactive(output)
        ? AnsiConsole.Console
        : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, ColorSystem = ColorSystemSupport.NoColors });

    private sealed record Common(Option<bool> Local, Option<FileInfo?> Guest, Option<FileInfo?> Host, Option<string> IdColumn, Option<string> LabelColumn,
        Option<string?> Out, Option<int> Epochs, Option<int> Batch, Option<double> Rate, Option<double> L2, Option<int> Seed)
    {
        public static Common Create(string outDescription) => new(
            new Option<bool>("--local") { Description = "Both parties in this process (--guest, --host, --out); without it: against this node's store and its peer" },
            new Option<FileInfo?>("--guest") { Description = "--local: the guest's CSV (id, label, features)" },
            new Option<FileInfo?>("--host") { Description = "--local: the host's CSV (id, features)" },
            new Option<string>("--id-column") { Description = "--local: id column in both files", DefaultValueFactory = _ => "id" },
            new Option<string>("--label-column") { Description = "--local: label column (0/1) in the guest's file", DefaultValueFactory = _ => "y" },
            new Option<string?>("--out") { Description = outDescription },
            new Option<int>("--epochs") { DefaultValueFactory = _ => 10 },
            new Option<int>("--batch") { DefaultValueFactory = _ => 512 },
            new Option<double>("--learning-rate") { DefaultValueFactory = _ => 0.3 },
            new Option<double>("--l2") { DefaultValueFactory = _ => 0.001 },
            new Option<int>("--seed") { DefaultValueFactory = _ => 20 });

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Local, Guest, Host, IdColumn, LabelColumn, Out, Epochs, Batch, Rate, L2, Seed })
            {
                c.Options.Add(o);
            }
        }

        public DirectoryInfo OutDir(ParseResult r) => r.GetValue(Out) is { Length: > 0 } o ? new DirectoryInfo(o) : throw new CliUsageException("--local needs --out (the checkpoints' directory)");

        public (AlignedData Guest, AlignedData Host, VflOptions Options) Load(ParseResult r, TextWriter output)
        {
            if (r.GetValue(Guest) is not { } guestFile || r.GetValue(Host) is not { } hostFile)
            {
                throw new CliUsageException("--local needs --guest and --host (the two parties' CSV files)");
            }

            var g = PartyTableLoader.Load(guestFile.FullName, new TableOptions(r.GetValue(IdColumn)!, r.GetValue(LabelColumn)));
            var h = PartyTableLoader.Load(hostFile.FullName, new TableOptions(r.GetValue(IdColumn)!));
            var ids = PartyTableLoader.Intersection(g, h);
            output.WriteLine($"guest: {g.Report}");
            foreach (var s in g.Report.Skipped.Take(10))
            {
                output.WriteLine($"  skipped {s}");
            }

            output.WriteLine($"host: {h.Report}");
            foreach (var s in h.Report.Skipped.Take(10))
            {
                output.WriteLine($"  skipped {s}");
            }

            var ga = g.Align(ids);
            var ha = h.Align(ids);
            output.WriteLine($"{ids.Count} users on both sides; {ga.SkippedNotInIntersection} guest-only and {ha.SkippedNotInIntersection} host-only rows skipped");
            var options = new VflOptions
            {
                Epochs = r.GetValue(Epochs), BatchSize = r.GetValue(Batch), LearningRate = r.GetValue(Rate), L2 = r.GetValue(L2), Seed = r.GetValue(Seed),
            };
            return (ga, ha, options);
        }

        public static (VflCheckpoint Guest, VflCheckpoint Host) ReadCheckpoints(DirectoryInfo dir) =>
            (VflCheckpoint.Parse(File.ReadAllBytes(Path.Combine(dir.FullName, "guest.checkpoint.json"))),
             VflCheckpoint.Parse(File.ReadAllBytes(Path.Combine(dir.FullName, "host.checkpoint.json"))));
    }

    private static Command Train(TextWriter output, NodeOps node)
    {
        var c = Common.Create("--local: where the two checkpoints go");
        var peer = new Option<string?>("--peer") { Description = "Against a node: the peer node (as registered with `hutong collab peer add`)" };
        var own = new Option<string?>("--own") { Description = "Against a node: this node's feature table (vft_…)" };
        var theirs = new Option<string?>("--theirs") { Description = "Against a node: the peer's feature table (vft_…)" };
        var adSide = new Option<string>("--ad-side") { Description = "Against a node: the side without labels, proposer (this node) or peer", DefaultValueFactory = _ => "peer" };
        var tolerance = new Option<double>("--tolerance") { Description = "Early stopping: relative weight change below it", DefaultValueFactory = _ => 1e-4 };
        var holdout = new Option<double>("--holdout-share") { Description = "Share of the intersection held out for AUC/KS/log loss", DefaultValueFactory = _ => 0.2 };
        var key = new Option<string?>("--idempotency-key") { Description = "Against a node: run again with the same key to follow the same job instead of proposing another (default: a new key, printed)" };
        var noWait = new Option<bool>("--no-wait") { Description = "Against a node: propose and approve, then return (follow later with `hutong collab job follow`)" };
        var timeout = new Option<int>("--timeout") { Description = "Against a node: seconds to follow the job before giving up (exit 1; the job goes on)", DefaultValueFactory = _ => 6 * 3600 };
        var train = new Command("train", "Joint conversion model (vertical federated logistic regression): train it and evaluate on the hold-out. --local: both parties here (resumes from the checkpoints in --out). Against a node: propose a vfl-train job to --peer, approve it here, and follow it epoch by epoch (exit 0 finished, 1 failed, 2 bad input).")
            { peer, own, theirs, adSide, tolerance, holdout, key, noWait, timeout };
        c.AddTo(train);
        train.SetAction(async (r, ct) =>
        {
            if (!r.GetValue(c.Local))
            {
                var terms = new VflTerms(r.GetValue(c.Epochs), r.GetValue(c.Batch), r.GetValue(c.Rate), r.GetValue(c.L2), r.GetValue(tolerance), r.GetValue(c.Seed), r.GetValue(holdout));
                return await node.TrainAsync(r, r.GetValue(peer), r.GetValue(own), r.GetValue(theirs), r.GetValue(adSide)!, terms, r.GetValue(key), r.GetValue(noWait),
                    TimeSpan.FromSeconds(Math.Max(1, r.GetValue(timeout))), ct);
            }

            var (guest, host, options) = c.Load(r, output);
            var dir = c.OutDir(r);
            dir.Create();
            VflCheckpoint? gc = null, hc = null;
            if (File.Exists(Path.Combine(dir.FullName, "guest.checkpoint.json")))
            {
                (gc, hc) = Common.ReadCheckpoints(dir);
                output.WriteLine($"resuming from epoch {Math.Min(gc.Epoch, hc.Epoch)}");
            }

            var console = ConsoleFor(output);
            VflLocalRun? run = null;
            await console.Progress().StartAsync(async p =>
            {
                var task = p.AddTask("epochs", maxValue: options.Epochs);
                task.Value = gc?.Epoch ?? 0;
                run = await VflLocal.TrainAsync(guest, host, options, guestResume: gc, hostResume: hc,
                    saved: (role, cp) =>
                    {
                        File.WriteAllBytes(Path.Combine(dir.FullName, role == VflRole.Guest ? "guest.checkpoint.json" : "host.checkpoint.json"), cp.Serialize());
                        if (role == VflRole.Guest)
                        {
                            task.Value = cp.Stopped ? options.Epochs : cp.Epoch;
                        }
                    },
                    ct: ct);
            });
            using (run)
            {
                var m = await run!.EvaluateAsync(ct);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trained {run.Guest.Epoch} epochs{(run.Guest.Epoch < options.Epochs ? " (stopped early)" : "")}; hold-out AUC {m.Auc:F4}, KS {m.Ks:F4}, log loss {m.LogLoss:F4} ({m.Rows} rows)"));
            }

            return 0;
        });
        return train;
    }

    private static Command Evaluate(TextWriter output, NodeOps node)
    {
        var c = Common.Create("--local: where the two checkpoints are");
        var job = new Option<string?>("--job") { Description = "Against a node: a vfl-train job; prints its stored per-epoch and hold-out figures" };
        var evaluate = new Command("evaluate", "AUC, KS and log loss of the trained model on the hold-out (computed by the label side; the ad side gets the figures only). --job: a node's stored figures; --local: both parties here.") { job };
        c.AddTo(evaluate);
        evaluate.SetAction(async (r, ct) =>
        {
            if (!r.GetValue(c.Local))
            {
                return await node.EvaluateAsync(r, r.GetValue(job) ?? throw new CliUsageException("--job is required (or --local with --guest, --host, --out)"), ct);
            }

            var (guest, host, options) = c.Load(r, output);
            var (gc, hc) = Common.ReadCheckpoints(c.OutDir(r));
            using var run = await VflLocal.TrainAsync(guest, host, options, guestResume: gc with { Stopped = true }, hostResume: hc with { Stopped = true }, ct: ct);
            var m = await run.EvaluateAsync(ct);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hold-out AUC {m.Auc:F4}, KS {m.Ks:F4}, log loss {m.LogLoss:F4} ({m.Rows} rows, {m.Positives} positive)"));
            return 0;
        });
        return evaluate;
    }

    private static Command Score(TextWriter output, NodeOps node)
    {
        var c = Common.Create("--local: where the two checkpoints are; with --job and --table (batch scoring): the CSV file the scores go to");
        var users = new Option<string?>("--users") { Description = "Online scoring: comma-separated ids the ad side asks about" };
        var job = new Option<string?>("--job") { Description = "Against a node: a finished vfl-train job (online scoring with --users; batch scoring with --table), or a vfl-score job to export" };
        var table = new Option<string?>("--table") { Description = "Batch scoring: this node's feature table to score (vft_…; the features the model was trained on)" };
        var theirs = new Option<string?>("--theirs") { Description = "Batch scoring: the peer's feature table (vft_…)" };
        var hub = new Option<string?>("--hub") { Description = "Online scoring: the ad side's running hub (http://host:port); default Hutong:Collab:AdminUrl" };
        var token = new Option<string?>("--admin-token") { Description = "Online scoring: the hub's admin token; default Hutong:AdminToken (Hutong__AdminToken)" };
        var key = new Option<string?>("--idempotency-key") { Description = "Batch scoring: the same key follows the same vfl-score job" };
        var timeout = new Option<int>("--timeout") { Description = "Batch scoring: seconds to follow the job", DefaultValueFactory = _ => 6 * 3600 };
        var score = new Command("score", "Online scoring (--users): the ad side asks, per user, how likely the user is to buy; the label side answers. Batch scoring (--job with --table and --theirs): a vfl-score job both approve; the label side writes its per-user scores to --out (CSV); the ad side gets counts only.")
            { users, job, table, theirs, hub, token, key, timeout };
        c.AddTo(score);
        score.SetAction(async (r, ct) =>
        {
            if (!r.GetValue(c.Local))
            {
                var id = r.GetValue(job) ?? throw new CliUsageException("--job is required (or --local with --guest, --host, --out)");
                if (r.GetValue(users) is { } list)
                {
                    return await node.ScoreOnlineAsync(id, list, r.GetValue(hub), r.GetValue(token), ct);
                }

                return await node.ScoreBatchAsync(r, id, r.GetValue(table), r.GetValue(theirs), r.GetValue(c.Out), r.GetValue(key), TimeSpan.FromSeconds(Math.Max(1, r.GetValue(timeout))), ct);
            }

            var (guest, host, options) = c.Load(r, output);
            var (gc, hc) = Common.ReadCheckpoints(c.OutDir(r));
            using var run = await VflLocal.TrainAsync(guest, host, options, guestResume: gc with { Stopped = true }, hostResume: hc with { Stopped = true }, ct: ct);
            var serve = run.Guest.ServeAsync(run.GuestEnd, ct);
            foreach (var id in (r.GetValue(users) ?? throw new CliUsageException("--local scoring needs --users")).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                try
                {
                    var p = await run.Host.AskAsync(run.HostEnd, id, ct);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{id}\t{p:F4}"));
                }
                catch (VflProtocolException)
                {
                    output.WriteLine($"{id}\t(not a user the host holds)");
                }
            }

            await VflParty.ByeAsync(run.HostEnd, ct);
            await serve;
            return 0;
        });
        return score;
    }
}
