using System.Text.Json;
using Hutong.Collab.Node;
using Hutong.Server.Http;

namespace Hutong.Server.Collab.Nodes;

/// <summary>/admin/collab — the same operations as `hutong collab …` (operator token; Idempotency-Key on every POST).</summary>
public static class CollabEndpoints
{
    public sealed record AddPeerRequest(string? Name, string? Url, string? Fingerprint);


    public static HubRoutes MapCollab(this HubRoutes routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var g = routes.Admin.MapGroup("/collab");
        g.MapGet("/node", (CollabIdentity identity, CollabNodeOptions options) => identity.Fingerprint is { } fp
                ? ApiResult.Ok(new { @object = "collab_node", fingerprint = fp, port = options.Port })
                : ApiResult.Problem(404, "no_certificate", $"No node certificate at {options.CertificatePath}: create one with `hutong collab cert new`."))
            .WithTags("Collab node").WithSummary("This node's certificate fingerprint (SHA-256, what the peer pins) and gRPC port.");
        g.MapPost("/peers", async (HttpContext ctx, CollabJobService jobs, CollabIdentity identity) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<AddPeerRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                if (identity.Fingerprint is null)
                {
                    return ApiResult.Problem(409, "no_certificate", "This node has no certificate yet: create one with `hutong collab cert new`.");
                }

                return Result(await jobs.AddPeerAsync(body!.Name, body.Url, body.Fingerprint, "admin", ctx.RequestAborted), p => Peer(p));
            })
            .Accepts<AddPeerRequest>("application/json").ProducesProblem(400).ProducesProblem(409).WithTags("Collab peers")
            .WithSummary("Register a peer node: name, its https:// URL (its Hutong:Collab:Port) and its certificate's SHA-256 fingerprint (pinned; Idempotency-Key required).");
        g.MapGet("/peers", async (ICollabStore store, CancellationToken ct) =>
                ApiResult.Ok(new { @object = "list", data = (await store.ListPeersAsync(ct)).Select(Peer) }))
            .WithTags("Collab peers").WithSummary("The registered peers.");
        g.MapPost("/jobs", async (HttpContext ctx, CollabJobService jobs, CollabIdentity identity) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<ProposeJobRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                if (identity.Fingerprint is null)
                {
                    return ApiResult.Problem(409, "no_certificate", "This node has no certificate yet: create one with `hutong collab cert new`.");
                }

                return Result(await jobs.ProposeAsync(body!, "admin", ctx.RequestAborted), Job);
            })
            .Accepts<ProposeJobRequest>("application/json").ProducesProblem(400).ProducesProblem(404).ProducesProblem(422).WithTags("Collab jobs")
            .WithSummary("Propose a job to a peer: protocol (overlap | attribution), own_data_set, peer_data_set, output_to (proposer | peer | both), ad_side (attribution), minimum_count, epsilon, buckets, spend_fen. Runs only after both parties approved (Idempotency-Key required).");
        g.MapGet("/jobs", async (ICollabStore store, CancellationToken ct) =>
                ApiResult.Ok(new { @object = "list", data = (await store.ListJobsAsync(100, ct)).Select(Job) }))
            .WithTags("Collab jobs").WithSummary("The latest 100 jobs.");
        g.MapPost("/vfl/tables", async (HttpContext ctx, SqlVflStore vfl) =>
            {
                var q = ctx.Request.Query;
                var name = q["name"].ToString();
                if (string.IsNullOrWhiteSpace(name) || name.Length > 100 || name.Any(char.IsControl))
                {
                    // Control characters too: a NUL (?name=a%00b) was a 500 on PostgreSQL, whose text cannot hold one.
                    return ApiResult.Problem(400, "invalid_request", "name is required (at most 100 characters, no control characters)", param: "name");
                }

                var idColumn = string.IsNullOrWhiteSpace(q["id_column"]) ? "id" : q["id_column"].ToString();
                var labelColumn = string.IsNullOrWhiteSpace(q["label_column"]) ? null : q["label_column"].ToString();
                Hutong.Collab.Vfl.Data.PartyTable table;
                try
                {
                    using var reader = new StreamReader(ctx.Request.Body, System.Text.Encoding.UTF8);
                    table = await Task.Run(() => Hutong.Collab.Vfl.Data.PartyTableLoader.Load(reader, new Hutong.Collab.Vfl.Data.TableOptions(idColumn, labelColumn)), ctx.RequestAborted);
                }
                catch (Hutong.Collab.Vfl.VflProtocolException e)
                {
                    return ApiResult.Problem(422, e.Code, e.Message, param: "body");
                }

                if (table.Ids.Any(i => i.Contains('\0', StringComparison.Ordinal)))
                {
                    return ApiResult.Problem(422, "bad_id", "An id holds a NUL character (\\u0000): ids are stored as text, which cannot hold one.", param: "body");
                }

                if (table.Rows < 2)
                {
                    return ApiResult.Problem(422, "too_few_rows", $"{table.Report}: at least 2 rows must remain", param: "body");
                }

                return ApiResult.Json(201, FeatureTable(await vfl.CreateTableAsync(name, table, ctx.RequestAborted)));
            })
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(256L * 1024 * 1024))
            .Accepts<Stream>("text/csv").ProducesProblem(400).ProducesProblem(422).WithTags("Collab VFL tables")
            .WithSummary("Upload a feature table for vfl-train as CSV (header row; every column but the id and the label is a numeric feature). Query: name, id_column (default id), label_column (the label side only; 0/1). Missing values are imputed with the column mean and counted; skipped rows are listed with why (Idempotency-Key required).");
        g.MapGet("/jobs/{id}/score", async (CollabJobId id, HttpContext ctx, IServiceProvider services) =>
            {
                var user = ctx.Request.Query["user"].ToString();
                // Bounded as the wire bounds it (vfl_score refuses an id over 256 UTF-8 bytes): refused here, before anything runs.
                if (string.IsNullOrEmpty(user) || System.Text.Encoding.UTF8.GetByteCount(user) > CollabRunner.MaxUserIdBytes)
                {
                    return ApiResult.Problem(400, "invalid_request",
                        $"user is required: the user's id as in this node's feature table, at most {CollabRunner.MaxUserIdBytes} bytes (UTF-8)", param: "user");
                }

                if (services.GetService<CollabNodeHost>()?.Runner is not { } runner)
                {
                    return ApiResult.Problem(409, "node_not_running", "this hub runs no cooperation node (Hutong:Collab:Port is not set)");
                }

                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    var p = await runner.AskVflAsync(id.Value, user, ctx.RequestAborted);
                    return p is null
                        ? ApiResult.Problem(404, "unknown_user", "this node's feature table has no such user")
                        : ApiResult.Ok(new
                        {
                            @object = "collab_vfl_score", job_id = id.Value, probability = double.IsNaN(p.Value) ? (double?)null : p.Value,
                            known_to_label_side = !double.IsNaN(p.Value), ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                        });
                }
                catch (Hutong.Collab.CollabProtocolException e)
                {
                    return ApiResult.Problem(e.Code switch { "not_found" => 404, "invalid_request" => 400, _ => 409 }, e.Code, e.Message);
                }
                catch (Grpc.Core.RpcException e)
                {
                    return ApiResult.Problem(502, CollabWireErrors.CodeOf(e) ?? "peer_error", e.Status.Detail);
                }
            })
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(502).WithTags("Collab job score")
            .WithSummary("Online scoring on the ad side of a finished vfl-train job: how likely this user is to buy. This node's partial score goes to the label side with the id; the probability comes back.");
        g.MapGet("/jobs/{id}/scores", async (CollabJobId id, HttpContext ctx, CollabJobService jobs) =>
            {
                var q = ctx.Request.Query;
                var limit = 100;
                var after = -1;
                if (q.ContainsKey("limit") && !int.TryParse(q["limit"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit))
                {
                    return ApiResult.Problem(400, "invalid_request", $"limit: 1–{CollabJobService.MaxScorePage}", param: "limit");
                }

                if (q.ContainsKey("after") && !int.TryParse(q["after"], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out after))
                {
                    return ApiResult.Problem(400, "invalid_request", "after: the last row number of the previous page", param: "after");
                }

                var page = await jobs.ScoresAsync(id.Value, after, limit, ctx.RequestAborted);
                if (!page.Ok)
                {
                    return Problem(page);
                }

                var rows = page.Value!.Take(limit).ToList();
                return ApiResult.Ok(new
                {
                    @object = "list",
                    data = rows.Select(r => new { row = r.Row, user = r.UserId, probability = r.Probability }),
                    has_more = page.Value!.Count > limit,
                    next_after = rows.Count == 0 ? (int?)null : rows[^1].Row,
                });
            })
            .ProducesProblem(400).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).WithTags("Collab job scores")
            .WithSummary("A finished vfl-score job's per-user scores, on the label side only (the ad side: 403), in row order: limit 1–1000 (default 100), after the previous page's next_after.");
        g.MapGet("/vfl/tables", async (SqlVflStore vfl, CancellationToken ct) =>
                ApiResult.Ok(new { @object = "list", data = (await vfl.ListTablesAsync(ct)).Select(FeatureTable) }))
            .WithTags("Collab VFL tables").WithSummary("This node's feature tables for vfl-train.");
        g.MapGet("/jobs/{id}", async (CollabJobId id, ICollabStore store, SqlVflStore vfl, CancellationToken ct) =>
            {
                var jobId = id.Value;
                if (await store.GetJobAsync(jobId, ct) is not { } job)
                {
                    return Problems.NotFound("collab job");
                }

                var progress = await store.ProgressAsync(jobId, ct);
                var audit = await store.AuditTrailAsync(jobId, ct);
                var epochs = job.Terms.Protocol == CollabTerms.VflTrain ? await vfl.EpochsAsync(jobId, ct) : null;
                return ApiResult.Ok(new
                {
                    job = Job(job),
                    buckets = new { total = progress.Total, done = progress.Done },
                    // vfl-train: per finished epoch, the held-out figures this node may see (the ad side: the label side's three figures).
                    epochs = epochs?.Select(e => new { e.Epoch, e.Seconds, e.Holdout.Auc, e.Holdout.Ks, e.Holdout.LogLoss, e.Stopped, e.At }),
                    result = job.ResultJson is { } r ? JsonDocument.Parse(r).RootElement : (JsonElement?)null,
                    audit = audit.Select(a => new { a.At, a.Actor, a.Action, a.Detail }),
                });
            })
            .ProducesProblem(404).WithTags("Collab jobs").WithSummary("A job: terms, state, approvals, progress (buckets done) and its audit trail.");
        g.MapPost("/jobs/{id}/approve", async (CollabJobId id, HttpContext ctx, CollabJobService jobs) =>
                Result(await jobs.ApproveAsync(id.Value, "admin", ctx.RequestAborted), Job))
            .ProducesProblem(404).ProducesProblem(409).ProducesProblem(422).WithTags("Collab jobs")
            .WithSummary("Approve a job's terms on this node (its data set must exist and fit its role; Idempotency-Key required).");
        g.MapPost("/jobs/{id}/cancel", async (CollabJobId id, HttpContext ctx, CollabJobService jobs) =>
                Result(await jobs.CancelAsync(id.Value, "admin", ctx.RequestAborted), Job))
            .ProducesProblem(404).ProducesProblem(409).WithTags("Collab jobs").WithSummary("Cancel a job (the peer is told; Idempotency-Key required).");
        g.MapGet("/jobs/{id}/result", async (CollabJobId id, CollabJobService jobs, CancellationToken ct) =>
            {
                var r = await jobs.ResultAsync(id.Value, ct);
                return r.Ok ? ApiResult.Ok(JsonDocument.Parse(r.Value!).RootElement) : Problem(r);
            })
            .ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).WithTags("Collab job result")
            .WithSummary("A finished job's answer — only on the node entitled to it.");
        return routes;
    }

    private static object FeatureTable(Hutong.Collab.Node.Vfl.VflTableInfo t) => new
    {
        @object = "collab_vfl_table", t.Id, t.Name, t.HasLabels, t.FeatureNames, t.Rows, LoadReport = JsonDocument.Parse(t.LoadReport).RootElement, t.CreatedAt,
    };

    private static object Peer(CollabPeer p) => new { @object = "collab_peer", p.Name, p.Url, p.Fingerprint, p.CreatedAt };

    private static object Job(CollabJob j) => new
    {
        @object = "collab_job",
        j.Id,
        Peer = j.PeerName,
        Side = j.Side == CollabSide.Proposer ? "proposer" : "peer",
        Computes = j.IsDriver,
        State = j.State.Wire(),
        Terms = JsonDocument.Parse(j.Terms.ToJson()).RootElement,
        j.TermsSha256,
        j.ApprovedHere,
        j.ApprovedThere,
        j.Error,
        j.CreatedAt,
        j.UpdatedAt,
    };

    private static ApiResult Result<T>(CollabOutcome<T> outcome, Func<T, object> shape) =>
        outcome.Ok ? ApiResult.Json(outcome.Status, shape(outcome.Value!)) : Problem(outcome);

    private static ApiResult Problem<T>(CollabOutcome<T> o) => ApiResult.Problem(o.Status, o.Code!, o.Message!, param: o.Field);
}
