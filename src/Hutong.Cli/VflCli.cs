using System.CommandLine;
using System.Globalization;
using Hutong.Collab.Vfl;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Protocol;
using Spectre.Console;

namespace Hutong.Cli;

/// <summary>
/// `hutong collab train|evaluate|score --local`: the joint conversion model (issue 20) with both parties in this process,
/// exchanging the protocol's byte messages over an in-process channel. Between two hub nodes the same parties run over
/// part 1's transport (not wired yet). Each party's checkpoint (its own weights only) is written to --out after every
/// epoch; evaluate and score load them.
/// </summary>
internal static class VflCli
{
    /// <summary>Adds train, evaluate and score (the joint conversion model) to the collab group.</summary>
    public static Command AddTo(Command group, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(group);
        group.Subcommands.Add(Train(output));
        group.Subcommands.Add(Evaluate(output));
        group.Subcommands.Add(Score(output));
        return group;
    }

    private sealed record Common(Option<bool> Local, Option<FileInfo> Guest, Option<FileInfo> Host, Option<string> IdColumn, Option<string> LabelColumn,
        Option<DirectoryInfo> Out, Option<int> Epochs, Option<int> Batch, Option<double> Rate, Option<double> L2, Option<int> Seed)
    {
        public static Common Create() => new(
            new Option<bool>("--local") { Description = "Both parties in this process (the only mode until the nodes carry the protocol)" },
            new Option<FileInfo>("--guest") { Description = "The guest's CSV (id, label, features)", Required = true },
            new Option<FileInfo>("--host") { Description = "The host's CSV (id, features)", Required = true },
            new Option<string>("--id-column") { Description = "Id column in both files", DefaultValueFactory = _ => "id" },
            new Option<string>("--label-column") { Description = "Label column (0/1) in the guest's file", DefaultValueFactory = _ => "y" },
            new Option<DirectoryInfo>("--out") { Description = "Where the two checkpoints go", Required = true },
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

        public (AlignedData Guest, AlignedData Host, VflOptions Options) Load(ParseResult r, TextWriter output)
        {
            if (!r.GetValue(Local))
            {
                throw new ArgumentException("Only --local runs are possible until the collab nodes carry the protocol.");
            }

            var g = PartyTableLoader.Load(r.GetValue(Guest)!.FullName, new TableOptions(r.GetValue(IdColumn)!, r.GetValue(LabelColumn)));
            var h = PartyTableLoader.Load(r.GetValue(Host)!.FullName, new TableOptions(r.GetValue(IdColumn)!));
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

    private static Command Train(TextWriter output)
    {
        var c = Common.Create();
        var train = new Command("train", "Joint conversion model (vertical federated logistic regression): train it (resumes from the checkpoints in --out if there are any), then evaluate on the 20 % hold-out.");
        c.AddTo(train);
        train.SetAction(async (r, ct) =>
        {
            var (guest, host, options) = c.Load(r, output);
            var dir = r.GetValue(c.Out)!;
            dir.Create();
            VflCheckpoint? gc = null, hc = null;
            if (File.Exists(Path.Combine(dir.FullName, "guest.checkpoint.json")))
            {
                (gc, hc) = Common.ReadCheckpoints(dir);
                output.WriteLine($"resuming from epoch {Math.Min(gc.Epoch, hc.Epoch)}");
            }

            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
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

    private static Command Evaluate(TextWriter output)
    {
        var c = Common.Create();
        var evaluate = new Command("evaluate", "AUC, KS and log loss of the trained model on the hold-out (computed by the guest; the host gets the figures only).");
        c.AddTo(evaluate);
        evaluate.SetAction(async (r, ct) =>
        {
            var (guest, host, options) = c.Load(r, output);
            var (gc, hc) = Common.ReadCheckpoints(r.GetValue(c.Out)!);
            using var run = await VflLocal.TrainAsync(guest, host, options, guestResume: gc with { Stopped = true }, hostResume: hc with { Stopped = true }, ct: ct);
            var m = await run.EvaluateAsync(ct);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hold-out AUC {m.Auc:F4}, KS {m.Ks:F4}, log loss {m.LogLoss:F4} ({m.Rows} rows, {m.Positives} positive)"));
            return 0;
        });
        return evaluate;
    }

    private static Command Score(TextWriter output)
    {
        var c = Common.Create();
        var users = new Option<string>("--users") { Description = "Comma-separated ids the host asks about (online scoring)", Required = true };
        var score = new Command("score", "Online scoring: the host asks, per user, how likely the user is to buy; the guest answers.") { users };
        c.AddTo(score);
        score.SetAction(async (r, ct) =>
        {
            var (guest, host, options) = c.Load(r, output);
            var (gc, hc) = Common.ReadCheckpoints(r.GetValue(c.Out)!);
            using var run = await VflLocal.TrainAsync(guest, host, options, guestResume: gc with { Stopped = true }, hostResume: hc with { Stopped = true }, ct: ct);
            var serve = run.Guest.ServeAsync(run.GuestEnd, ct);
            foreach (var id in r.GetValue(users)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
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
