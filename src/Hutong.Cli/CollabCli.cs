using System.CommandLine;
using System.Text.Json;
using Hutong.Collab.Data;
using Hutong.Collab.Node;
using Hutong.Server.Collab.Nodes;
using Hutong.Server.Storage;
using Microsoft.Extensions.Configuration;
using Spectre.Console;

namespace Hutong.Cli;

/// <summary>
/// `hutong collab …`: the node certificate, peers and jobs, on the hub's store (the running hub's runner tells the peer
/// and runs the job). Data sets: --synthetic serves the seeded synthetic ones (synthetic:…).
/// </summary>
internal static class CollabCli
{
    /// <summary>Where a job stands after this node's approval, from its current state (never a stale "waiting").</summary>
    internal static string ApprovalState(CollabJob j) => j.State switch
    {
        CollabJobState.Proposed when j.ApprovedThere => "the peer approved too (proposed; the node starts it on its next pass)",
        CollabJobState.Proposed => "waiting for the peer's approval (proposed)",
        CollabJobState.Approved => "both parties approved (approved; the node starts it on its next pass)",
        CollabJobState.Running => "both parties approved; running",
        _ => $"the job is {j.State.Wire()}{(j.Error is null ? string.Empty : ": " + j.Error)}",
    };

    /// <summary>The job service on this node's store, as this node (its certificate's fingerprint; --cert, --synthetic of the collab group).</summary>
    internal static CollabJobService JobService(ParseResult r, Db db, IConfiguration config)
    {
        var path = r.GetValue<string?>("--cert") ?? config[$"{CollabNodeOptions.Section}:CertificatePath"] ?? "collab-node.pem";
        var fp = File.Exists(path) ? NodeIdentity.Fingerprint(NodeIdentity.Load(path)) : throw new CliException($"no node certificate at {path}: run `hutong collab cert new` first");
        ICollabDataSets stored = new Hutong.Server.Collab.DataSets.CollabDataSetStore(db);
        ICollabDataSets data = r.GetValue<bool>("--synthetic") || config.GetValue<bool>($"{CollabNodeOptions.Section}:Synthetic") ? new SyntheticBesideStored(new SyntheticDataSets(), stored) : stored;
        return new CollabJobService(new SqlCollabStore(db, TimeProvider.System), data, TimeProvider.System, fp, new SqlVflStore(db, TimeProvider.System));
    }

    public static Command Build(TextWriter output, IConfiguration config, Func<ParseResult, Func<Db, Task>, Task<int>> withDb)
    {
        var certPath = new Option<string?>("--cert") { Description = "The node certificate (PEM with key); default Hutong:Collab:CertificatePath or collab-node.pem", Recursive = true };
        var synthetic = new Option<bool>("--synthetic") { Description = "Serve the seeded synthetic data sets (synthetic:{users|exposures|conversions}:{from}:{count}:{seed})", Recursive = true };
        var collab = new Command("collab", "Cooperation without sharing data: node certificate, peers, jobs (overlap, attribution).");
        collab.Options.Add(certPath);
        collab.Options.Add(synthetic);

        string CertPath(ParseResult r) => r.GetValue(certPath) ?? config[$"{CollabNodeOptions.Section}:CertificatePath"] ?? "collab-node.pem";

        CollabJobService Service(ParseResult r, Db db) => JobService(r, db, config);

        T Value<T>(CollabOutcome<T> o) => o.Ok ? o.Value! : throw new CliException($"{o.Code}: {o.Message}");

        // cert
        var cert = new Command("cert", "This node's identity: an ECDSA P-256 self-signed certificate the peer pins by its SHA-256.");
        var name = new Option<string>("--name") { Description = "The certificate's common name", DefaultValueFactory = _ => "hutong-collab-node" };
        var certNew = new Command("new", "Create the node certificate and key (PEM, mode 0600; refuses to overwrite) and print its fingerprint.") { name };
        certNew.SetAction(async (r, ct) =>
        {
            var path = CertPath(r);
            if (File.Exists(path))
            {
                throw new CliException($"{path} exists already (a node keeps its identity; delete it only to replace the node's identity with every peer)");
            }

            using var c = NodeIdentity.Create(r.GetValue(name)!, TimeSpan.FromDays(3650), TimeProvider.System);
            NodeIdentity.Save(c, path);
            await output.WriteLineAsync($"certificate written to {path}");
            await output.WriteLineAsync($"sha256 fingerprint: {NodeIdentity.Fingerprint(c)}");
            return 0;
        });
        var certShow = new Command("show", "Print the node certificate's SHA-256 fingerprint (give it to the peer's operator).");
        certShow.SetAction(async (r, ct) =>
        {
            using var c = NodeIdentity.Load(CertPath(r));
            await output.WriteLineAsync($"subject: {c.Subject}, valid until {c.NotAfter:yyyy-MM-dd}");
            await output.WriteLineAsync($"sha256 fingerprint: {NodeIdentity.Fingerprint(c)}");
            return 0;
        });
        cert.Subcommands.Add(certNew);
        cert.Subcommands.Add(certShow);

        // peer
        var peer = new Command("peer", "The parties this node cooperates with, pinned by certificate fingerprint.");
        var peerName = new Argument<string>("name");
        var peerUrl = new Argument<string>("url") { Description = "The peer node's https://host:port (its Hutong:Collab:Port)" };
        var peerFp = new Argument<string>("fingerprint") { Description = "The SHA-256 of the peer's certificate (`hutong collab cert show` there)" };
        var peerAdd = new Command("add", "Register a peer.") { peerName, peerUrl, peerFp };
        peerAdd.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var p = Value(await Service(r, db).AddPeerAsync(r.GetValue(peerName), r.GetValue(peerUrl), r.GetValue(peerFp), "cli", ct));
            await output.WriteLineAsync($"peer {p.Name} at {p.Url}, pinned sha256 {p.Fingerprint}");
        }));
        var peerList = new Command("list", "List peers.");
        peerList.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            foreach (var p in await new SqlCollabStore(db, TimeProvider.System).ListPeersAsync(ct))
            {
                await output.WriteLineAsync($"{p.Name}\t{p.Url}\t{p.Fingerprint}");
            }
        }));
        peer.Subcommands.Add(peerAdd);
        peer.Subcommands.Add(peerList);

        // job
        var job = new Command("job", "Jobs: propose (start), approve, follow, print the result.");
        var jobPeer = new Option<string>("--peer") { Required = true };
        var protocol = new Option<string>("--protocol") { Description = "overlap | attribution", DefaultValueFactory = _ => "overlap" };
        var own = new Option<string>("--own") { Description = "This node's data set", Required = true };
        var theirs = new Option<string>("--theirs") { Description = "The peer's data set", Required = true };
        var outputTo = new Option<string?>("--output-to") { Description = "proposer | peer | both (default: proposer; attribution: the ad side)" };
        var adSide = new Option<string?>("--ad-side") { Description = "attribution: which side holds the exposures (proposer | peer)" };
        var minimum = new Option<long?>("--minimum-count") { Description = "Counts below it are not released (default 10)" };
        var epsilon = new Option<double?>("--epsilon") { Description = "Differential privacy on released counts (ε)" };
        var buckets = new Option<int?>("--buckets") { Description = "Hash buckets: the unit of progress and resume (default 16)" };
        var spend = new Option<long?>("--spend-fen") { Description = "attribution: campaign spend, for iROAS" };
        var start = new Command("start", "Propose a job to a peer (both parties must approve it before it runs).")
            { jobPeer, protocol, own, theirs, outputTo, adSide, minimum, epsilon, buckets, spend };
        start.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var j = Value(await Service(r, db).ProposeAsync(new ProposeJobRequest(r.GetValue(jobPeer), r.GetValue(protocol), r.GetValue(own), r.GetValue(theirs),
                r.GetValue(outputTo), r.GetValue(adSide), r.GetValue(minimum), r.GetValue(epsilon), r.GetValue(buckets), r.GetValue(spend)), "cli", ct));
            await output.WriteLineAsync($"job {j.Id} proposed to {j.PeerName} (terms sha256 {j.TermsSha256}); approve it here and on the peer: hutong collab job approve {j.Id}");
        }));
        var jobId = new Argument<string>("job-id");
        var approve = new Command("approve", "Approve a job's terms on this node.") { jobId };
        approve.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var before = await new SqlCollabStore(db, TimeProvider.System).GetJobAsync(r.GetValue(jobId)!, ct);
            var j = Value(await Service(r, db).ApproveAsync(r.GetValue(jobId)!, "cli", ct));
            await output.WriteLineAsync($"job {j.Id}: {(before?.ApprovedHere == true ? "already approved here" : "approved here")}; {ApprovalState(j)}");
        }));
        var cancel = new Command("cancel", "Cancel a job (the peer is told).") { jobId };
        cancel.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var j = Value(await Service(r, db).CancelAsync(r.GetValue(jobId)!, "cli", ct));
            await output.WriteLineAsync($"job {j.Id}: {j.State.Wire()}");
        }));
        var show = new Command("show", "A job's terms, state, progress and audit trail.") { jobId };
        show.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var store = new SqlCollabStore(db, TimeProvider.System);
            var j = await store.GetJobAsync(r.GetValue(jobId)!, ct) ?? throw new CliException($"no job {r.GetValue(jobId)}");
            var p = await store.ProgressAsync(j.Id, ct);
            await output.WriteLineAsync($"job {j.Id} with {j.PeerName}: {j.State.Wire()}; this node is the {(j.Side == CollabSide.Proposer ? "proposer" : "peer")}{(j.IsDriver ? " and computes" : string.Empty)}");
            await output.WriteLineAsync($"terms: {j.Terms.ToJson()}");
            await output.WriteLineAsync($"approved here: {j.ApprovedHere}, by the peer: {j.ApprovedThere}; buckets done: {p.Done}/{p.Total}{(j.Error is null ? string.Empty : "; error: " + j.Error)}");
            foreach (var a in await store.AuditTrailAsync(j.Id, ct))
            {
                await output.WriteLineAsync($"  {DateTimeOffset.FromUnixTimeMilliseconds(a.At):u} {a.Actor} {a.Action} {a.Detail}");
            }
        }));
        var follow = new Command("follow", "Follow a running job with a progress bar until it ends.") { jobId };
        follow.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var store = new SqlCollabStore(db, TimeProvider.System);
            var id = r.GetValue(jobId)!;
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            CollabJob? j = null;
            await console.Progress().StartAsync(async ctx =>
            {
                var task = ctx.AddTask($"job {id}", maxValue: 1);
                while (!ct.IsCancellationRequested)
                {
                    j = await store.GetJobAsync(id, ct) ?? throw new CliException($"no job {id}");
                    var p = await store.ProgressAsync(id, ct);
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    task.Description = $"job {id}: {j.State.Wire()} {p.Done}/{p.Total} buckets";
                    if (CollabJobStates.IsFinal(j.State))
                    {
                        break;
                    }

                    await Task.Delay(500, ct);
                }
            });
            await output.WriteLineAsync($"job {id}: {j?.State.Wire()}{(j?.Error is null ? string.Empty : ": " + j.Error)}");
        }));
        var result = new Command("result", "Print a finished job's answer (only on the node entitled to it).") { jobId };
        result.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            var res = Value(await Service(r, db).ResultAsync(r.GetValue(jobId)!, ct));
            await output.WriteLineAsync(JsonSerializer.Serialize(JsonDocument.Parse(res).RootElement, new JsonSerializerOptions { WriteIndented = true }));
        }));
        var list = new Command("list", "The latest jobs.");
        list.SetAction(async (r, ct) => await withDb(r, async db =>
        {
            foreach (var j in await new SqlCollabStore(db, TimeProvider.System).ListJobsAsync(50, ct))
            {
                await output.WriteLineAsync($"{j.Id}\t{j.Terms.Protocol}\t{j.PeerName}\t{j.State.Wire()}");
            }
        }));
        foreach (var c in new[] { start, approve, cancel, show, follow, result, list })
        {
            job.Subcommands.Add(c);
        }

        collab.Subcommands.Add(cert);
        collab.Subcommands.Add(peer);
        collab.Subcommands.Add(job);
        return collab;
    }
}
