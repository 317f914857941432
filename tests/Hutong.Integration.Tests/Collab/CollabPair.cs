using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Dapper;
using Grpc.Net.Client;
using Hutong.Cli;
using Hutong.Collab.Node;
using Hutong.Collab.Node.Wire;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Hutong.Integration.Tests.Collab;

/// <summary>
/// One party's hub as a real process (src/Hutong.Server) with its cooperation node on its own port (mTLS), its own
/// store (a SQLite file or a PostgreSQL database) and its own certificate; the synthetic data sets switched on.
/// </summary>
public sealed class CollabNodeProcess : IAsyncDisposable
{
    public const string AdminToken = "collab-admin-token-0123456789abcdef";
    private readonly Dictionary<string, string> _env;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private CollabNodeProcess(string name, bool postgres, string connection, string certPath, string fingerprint, int httpPort, int collabPort, Dictionary<string, string> env)
    {
        Name = name;
        Postgres = postgres;
        Connection = connection;
        CertPath = certPath;
        Fingerprint = fingerprint;
        HttpPort = httpPort;
        CollabPort = collabPort;
        _env = env;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(20) };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
    }

    public string Name { get; }

    public bool Postgres { get; }

    public string Connection { get; }

    public string CertPath { get; }

    public string Fingerprint { get; }

    public int HttpPort { get; }

    public int CollabPort { get; }

    public string CollabUrl => $"https://127.0.0.1:{CollabPort}";

    public HttpClient Http { get; }

    public string? Database { get; init; }

    public static async Task<CollabNodeProcess> StartAsync(string name, string dir, bool postgres, IDictionary<string, string>? extra = null)
    {
        var certPath = Path.Combine(dir, name + ".pem");
        var cli = new StringWriter();
        Assert.Equal(0, await HutongCli.RunAsync(["collab", "cert", "new", "--cert", certPath, "--name", "node-" + name], cli));
        var fingerprint = cli.ToString().Split("sha256 fingerprint: ")[1].Trim();
        string connection;
        string? database = null;
        if (postgres)
        {
            database = "hutong_collab_" + name + "_" + Guid.NewGuid().ToString("N")[..8];
            connection = await PostgresHub.CreateDatabaseAsync(database);
        }
        else
        {
            connection = $"Data Source={Path.Combine(dir, name + ".db")}";
        }

        var env = new Dictionary<string, string>
        {
            ["Store__Provider"] = postgres ? "Postgres" : "Sqlite",
            ["Store__ConnectionString"] = connection,
            ["Store__MaxPoolSize"] = "8",
            ["Hutong__AdminToken"] = AdminToken,
            ["Hutong__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Hutong__Reconciliation__Enabled"] = "false",
            ["Hutong__Collab__ListenAddress"] = "127.0.0.1",
            ["Hutong__Collab__CertificatePath"] = certPath,
            ["Hutong__Collab__Synthetic"] = "true",
            ["Hutong__Collab__PollInterval"] = "00:00:00.200",
            ["Hutong__Collab__BatchSize"] = "64",
            ["Hutong__Collab__RetryFirst"] = "00:00:00.100",
            ["Hutong__Collab__RetryMax"] = "00:00:01",
            ["Hutong__Collab__CallTimeout"] = "00:00:20",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        var node = new CollabNodeProcess(name, postgres, connection, certPath, fingerprint, FreePort(), FreePort(), env) { Database = database };
        node._env["Hutong__Collab__Port"] = node.CollabPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await node.StartProcessAsync();
        return node;
    }

    /// <summary>
    /// Another instance of this party: the same store, certificate, master key and options, its own HTTP and gRPC ports
    /// (several hubs of one party behind an address list). Its store is this node's: disposing it drops nothing.
    /// </summary>
    public async Task<CollabNodeProcess> StartSiblingAsync(string name)
    {
        var node = new CollabNodeProcess(name, Postgres, Connection, CertPath, Fingerprint, FreePort(), FreePort(), new Dictionary<string, string>(_env));
        node._env["Hutong__Collab__Port"] = node.CollabPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await node.StartProcessAsync();
        return node;
    }

    public async Task StartProcessAsync()
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll"));
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{HttpPort}");
        foreach (var (k, v) in _env)
        {
            psi.Environment[k] = v;
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(_process.HasExited, $"hub {Name} exited during start\n{Output()}");
            try
            {
                using var r = await Http.GetAsync("/healthz/ready");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        Assert.Fail($"hub {Name} not ready within 60 s\n{Output()}");
    }

    /// <summary>SIGKILL: no shutdown, no flush — as a crash.</summary>
    public void Kill()
    {
        _process!.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public string Output()
    {
        lock (_output)
        {
            return $"--- {Name}:\n{_output}";
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 100_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>`hutong collab …` on this node's store (as its operator would run it); returns the output.</summary>
    public async Task<string> CliAsync(params string[] args)
    {
        var output = new StringWriter();
        var code = await HutongCli.RunAsync(
            [.. args, "--cert", CertPath, "--synthetic", "--store", Postgres ? "Postgres" : "Sqlite", "--connection", Connection], output);
        Assert.True(code == 0, $"hutong {string.Join(' ', args)} exited {code}:\n{output}");
        return output.ToString();
    }

    public async Task<T> QueryScalarAsync<T>(string sql, object? param = null)
    {
        if (Postgres)
        {
            await using var c = new NpgsqlConnection(Connection);
            return (await c.ExecuteScalarAsync<T>(sql, param))!;
        }

        await using var s = new SqliteConnection(Connection);
        return (await s.ExecuteScalarAsync<T>(sql, param))!;
    }

    public async Task<List<(long Bucket, long CompletedAt)>> DoneBucketsAsync(string jobId)
    {
        const string sql = "SELECT bucket, completed_at FROM collab_job_buckets WHERE job_id = @jobId AND state = 'done' ORDER BY bucket";
        if (Postgres)
        {
            await using var c = new NpgsqlConnection(Connection);
            return [.. (await c.QueryAsync<(int, long)>(sql, new { jobId })).Select(r => ((long)r.Item1, r.Item2))];
        }

        await using var s = new SqliteConnection(Connection);
        return [.. await s.QueryAsync<(long, long)>(sql, new { jobId })];
    }

    /// <summary>The epochs of a vfl-train job stored in this node's own store (readable while the process is down): (epoch, at).</summary>
    public async Task<List<(long Epoch, long At)>> VflEpochsStoredAsync(string jobId)
    {
        const string sql = "SELECT epoch, at FROM collab_vfl_epochs WHERE job_id = @jobId ORDER BY epoch";
        if (Postgres)
        {
            await using var c = new NpgsqlConnection(Connection);
            return [.. (await c.QueryAsync<(int, long)>(sql, new { jobId })).Select(r => ((long)r.Item1, r.Item2))];
        }

        await using var s = new SqliteConnection(Connection);
        return [.. await s.QueryAsync<(long, long)>(sql, new { jobId })];
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var r = await Http.GetAsync(path);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"GET {path}: {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body ?? new { }) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        using var r = await Http.SendAsync(request);
        var text = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>This node's job as its REST API shows it: (state, buckets done, total).</summary>
    public async Task<(string State, int Done, int Total, bool ApprovedHere, bool ApprovedThere)> JobAsync(string id)
    {
        using var r = await Http.GetAsync($"/admin/collab/jobs/{id}");
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return ("absent", 0, 0, false, false);
        }

        var j = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        return (j.GetProperty("job").GetProperty("state").GetString()!, j.GetProperty("buckets").GetProperty("done").GetInt32(),
            j.GetProperty("buckets").GetProperty("total").GetInt32(),
            j.GetProperty("job").GetProperty("approved_here").GetBoolean(), j.GetProperty("job").GetProperty("approved_there").GetBoolean());
    }

    public async Task<string> WaitForStateAsync(string jobId, TimeSpan within, params string[] states)
    {
        var deadline = DateTime.UtcNow + within;
        var last = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            last = (await JobAsync(jobId)).State;
            if (states.Contains(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"job {jobId} on {Name} is {last}, not {string.Join('/', states)}, after {within}\n{Output()}");
        return last;
    }

    /// <summary>A gRPC client to this node presenting <paramref name="certificatePath"/>'s certificate, pinning this node's.</summary>
    public CollabNode.CollabNodeClient ClientAs(string certificatePath, string? pin = null, List<GrpcChannel>? keep = null)
    {
        var channel = CollabPeerClients.Open(CollabUrl, pin ?? Fingerprint, NodeIdentity.Load(certificatePath), new CollabNodeOptions());
        keep?.Add(channel);
        return new CollabNode.CollabNodeClient(channel);
    }

    public static async Task PairAsync(CollabNodeProcess a, CollabNodeProcess b)
    {
        await a.CliAsync("collab", "peer", "add", b.Name, b.CollabUrl, b.Fingerprint);
        // The other operator registers through the admin API.
        var (status, body) = await b.PostAsync("/admin/collab/peers", new { name = a.Name, url = a.CollabUrl, fingerprint = a.Fingerprint });
        Assert.True(status == HttpStatusCode.Created, body.ToString());
    }

    public static string JobIdIn(string cliOutput) => System.Text.RegularExpressions.Regex.Match(cliOutput, "cj_[0-9a-f]+").Value;

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        Http.Dispose();
        if (Database is not null)
        {
            await PostgresHub.DropDatabaseAsync(Database);
        }
    }
}
