using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Hutong.Server.Storage;
using Npgsql;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of a test's own (initdb in a temporary directory, loopback, a free port), for tests that stop,
/// restart or replicate the server: the shared test server (HUTONG_TEST_PG) must never be restarted. Started like
/// scripts/test-deps.sh starts that one: as root (CI) every PostgreSQL program runs as the postgres user.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _dir;

    private PrivatePostgres(string dir, int port, bool standby) => (_dir, Port, IsStandby) = (dir, port, standby);

    public int Port { get; }

    public bool IsStandby { get; }

    public bool Running { get; private set; }

    /// <summary>The cluster's address, for a multi-host connection string ("127.0.0.1:port").</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    /// <summary>A connection string to <paramref name="database"/> on this cluster (trust authentication).</summary>
    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, MaxPoolSize = 40 }.ConnectionString;

    private string Data => Path.Combine(_dir, "data");

    private static string Bin => Directory.GetDirectories("/usr/lib/postgresql")
        .Select(d => Path.Combine(d, "bin"))
        .Where(d => File.Exists(Path.Combine(d, "initdb")))
        .OrderBy(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var major) ? major : 0)
        .LastOrDefault() ?? throw new InvalidOperationException("No PostgreSQL under /usr/lib/postgresql (scripts/test-deps.sh installs it).");

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>initdb and start a new primary.</summary>
    public static async Task<PrivatePostgres> StartAsync()
    {
        var pg = new PrivatePostgres(NewDirectory(), FreePort(), standby: false);
        await RunAsync("initdb", "-D", pg.Data, "-U", "postgres", "-A", "trust", "--no-sync");
        await pg.StartAgainAsync();
        return pg;
    }

    /// <summary>A streaming replica of this primary (pg_basebackup -R), started on a port of its own.</summary>
    public async Task<PrivatePostgres> StartStandbyAsync()
    {
        var standby = new PrivatePostgres(NewDirectory(), FreePort(), standby: true);
        await RunAsync("pg_basebackup", "-D", standby.Data, "-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync"); // fast: not a spread checkpoint (minutes)
        await standby.StartAgainAsync();
        return standby;
    }

    /// <summary>Starts the (stopped) cluster again on its port; returns once it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        // fsync off: these clusters never outlive the machine, and the tests stop them cleanly (a fast shutdown writes
        // everything committed) or throw them away.
        var options = $"-c listen_addresses=127.0.0.1 -c port={Port} -c unix_socket_directories={_dir} -c max_connections=200 -c fsync=off";
        await RunAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "log"), "-w", "-t", "30", "-o", options, "start");
        Running = true;
    }

    /// <summary>Stops the cluster: "fast" (the default) ends every session and checkpoints; "immediate" is a crash.</summary>
    public async Task StopAsync(string mode = "fast")
    {
        await RunAsync("pg_ctl", "-D", Data, "-m", mode, "-w", "-t", "30", "stop");
        Running = false;
    }

    /// <summary>Creates <paramref name="name"/> and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var c = new NpgsqlConnection(ConnectionString());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>The server's log, for failure messages.</summary>
    public string Log()
    {
        var log = Path.Combine(_dir, "log");
        return File.Exists(log) ? File.ReadAllText(log) : string.Empty;
    }

    public async ValueTask DisposeAsync()
    {
        if (Running)
        {
            try
            {
                await StopAsync("immediate");
            }
            catch (InvalidOperationException)
            {
                // Already gone; the directory goes anyway.
            }
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string NewDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-pgprivate-").FullName;
        if (IsRoot)
        {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres user, as in scripts/test-deps.sh.
            RunSync("chown", "postgres", dir);
        }

        return dir;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var psi = IsRoot ? new ProcessStartInfo("runuser") : new ProcessStartInfo(Path.Combine(Bin, program));
        if (IsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(Bin, program) })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/tmp"; // runuser keeps the working directory, which the postgres user may not be allowed to read
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} did not finish within {CommandTimeout}");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {p.ExitCode}: {await stdout}{await stderr}");
        }
    }

    private static void RunSync(string program, params string[] args)
    {
        using var p = Process.Start(program, args);
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {p.ExitCode}");
        }
    }
}

/// <summary>
/// A hub (with HubFixture's sandbox wallets) on a <see cref="PrivatePostgres"/> cluster of its own, which the tests may stop
/// and restart; with <see cref="WithStandby"/>, also a streaming replica, and the hub's connection string lists both hosts.
/// </summary>
public class PrivatePostgresHub : HubFixture
{
    public PrivatePostgres Primary { get; private set; } = null!;

    public PrivatePostgres? Standby { get; private set; }

    public override StoreProvider Provider => StoreProvider.Postgres;

    protected virtual bool WithStandby => false;

    protected override async Task<string> CreateDatabaseAsync()
    {
        Primary = await PrivatePostgres.StartAsync();
        try
        {
            var connectionString = await Primary.CreateDatabaseAsync("hutong");
            if (!WithStandby)
            {
                return connectionString;
            }

            // The standby is listed first: the hub must still find the primary for every write (and the cache listener).
            Standby = await Primary.StartStandbyAsync();
            return new NpgsqlConnectionStringBuilder(connectionString) { Host = $"{Standby.HostAndPort},{Primary.HostAndPort}" }.ConnectionString;
        }
        catch
        {
            await Primary.DisposeAsync(); // a fixture that failed to start is never disposed: leave no server running
            throw;
        }
    }

    protected override async Task DropDatabaseAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }

        await Primary.DisposeAsync();
    }
}

/// <summary>A hub on a private primary and its streaming replica (Store:ConnectionString names both hosts, the standby first).</summary>
public sealed class ReplicatedPostgresHub : PrivatePostgresHub
{
    protected override bool WithStandby => true;
}
