using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features;

/// <summary>A channel as listed to operators: never its credentials.</summary>
public sealed record ChannelInfo(string Id, string Wallet, string Mode, bool Configured);

/// <summary>
/// The enabled wallets and the channels that reach them. A channel is one account at a wallet, direct or through a
/// licensed acquirer (service-provider mode). Each configured wallet account is the channel named after its wallet;
/// operators add more at run time, with credentials sealed by <see cref="SecretBox"/> in the store.
/// </summary>
public sealed class WalletRegistry(
    IEnumerable<IWalletConnector> connectors, WalletCatalog modules, Db db, SecretBox secrets, IServiceProvider services, TimeProvider time, IOptions<HubOptions> options,
    CacheBus? caches = null)
{
    private readonly Dictionary<string, IWalletConnector> _byName = connectors.ToDictionary(c => c.Wallet, StringComparer.Ordinal);
    private readonly Cached _cached = new(caches);
    private readonly TimeSpan _cacheTtl = caches?.Ttl ?? CacheBus.DefaultTtl;

    private sealed record EnabledWallets(IReadOnlyDictionary<string, IWalletConnector> Wallets, DateTimeOffset Until);

    /// <summary>
    /// What this instance remembers of the channels: their connectors, and the enabled wallets. A channel added on any
    /// instance (or by the CLI) drops the snapshot everywhere through <see cref="CacheBus"/>.
    /// </summary>
    private sealed class Cached
    {
        public Cached(CacheBus? caches) =>
            Tracker = CacheTracker.Track(caches, CacheBus.WalletChannel, id =>
            {
                Channels.TryRemove(id, out _);
                Enabled = null;
            }, () =>
            {
                Channels.Clear();
                Enabled = null;
            });

        public ConcurrentDictionary<string, IWalletConnector> Channels { get; } = new(StringComparer.Ordinal);

        // A reference, so readers on other threads see the whole snapshot or none of it.
        public EnabledWallets? Enabled { get => Volatile.Read(ref _enabled); set => Volatile.Write(ref _enabled, value); }

        public CacheTracker Tracker { get; }

        private EnabledWallets? _enabled;
    }

    /// <summary>Names a channel may not take: each wallet's configured account is the channel of that name.</summary>
    public bool IsWalletName(string name) => modules.Find(name) is not null;

    /// <summary>
    /// The wallets this hub can take, each with a representative connector (for capabilities): those with a configured
    /// account, and those reachable only through an operator-added channel (an acquirer before direct access is approved).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IWalletConnector>> WalletsAsync(CancellationToken ct)
    {
        if (_cached.Enabled is { } hit && hit.Until > time.GetUtcNow())
        {
            return hit.Wallets;
        }

        var generation = _cached.Tracker.Generation;
        var result = new Dictionary<string, IWalletConnector>(_byName, StringComparer.Ordinal);
        var stored = await db.ReadAsync(c => c.QueryAsync<(string Id, string Wallet)>("SELECT id, wallet FROM channels ORDER BY id"), ct);
        foreach (var (id, wallet) in stored)
        {
            if (!result.ContainsKey(wallet) && await ChannelAsync(id, ct) is { } connector)
            {
                result[wallet] = connector;
            }
        }

        if (_cached.Tracker.MayCache(generation))
        {
            _cached.Enabled = new EnabledWallets(result, time.GetUtcNow() + _cacheTtl);
        }

        return result;
    }

    /// <summary>Where the wallet behind <paramref name="channel"/> sends notifications; each channel verifies with its own keys.</summary>
    public string NotifyUrl(string channel) => $"{options.Value.PublicBaseUrl.TrimEnd('/')}/notify/{channel}";

    /// <summary>The connector of a channel: a configured wallet account, or one an operator added.</summary>
    public async Task<IWalletConnector?> ChannelAsync(string channel, CancellationToken ct)
    {
        if (_byName.TryGetValue(channel, out var configured))
        {
            return configured;
        }

        if (_cached.Channels.TryGetValue(channel, out var cached))
        {
            return cached;
        }

        var row = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<(string Wallet, string ConfigCiphertext)?>(
            "SELECT wallet, config_ciphertext FROM channels WHERE id = @channel", new { channel }), ct);
        if (row is not { } r)
        {
            return null;
        }

        return _cached.Channels.GetOrAdd(channel, _ => Build(r.Wallet, secrets.Open(r.ConfigCiphertext, channel)));
    }

    /// <summary>Adds a channel. Its credentials are proved by building the connector before anything is stored.</summary>
    public async Task AddChannelAsync(string id, string wallet, string mode, JsonElement config, CancellationToken ct)
    {
        var raw = config.GetRawText();
        var connector = Build(wallet, raw);
        var sealedConfig = secrets.Seal(raw, id);
        await db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                "INSERT INTO channels (id, wallet, mode, config_ciphertext, created_at) VALUES (@id, @wallet, @mode, @sealedConfig, @now)",
                new { id, wallet, mode, sealedConfig, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, t);
            await CacheBus.SendAsync(c, t, CacheBus.WalletChannel, id); // the other instances' wallet lists take it in
        }, ct);
        _cached.Tracker.Evict(id);
        _cached.Channels[id] = connector;
    }

    public async Task<IReadOnlyList<ChannelInfo>> ListAsync(CancellationToken ct)
    {
        var stored = await db.ReadAsync(c => c.QueryAsync<(string Id, string Wallet, string Mode)>("SELECT id, wallet, mode FROM channels ORDER BY id"), ct);
        return _byName.Keys.Order(StringComparer.Ordinal).Select(w => new ChannelInfo(w, w, "configured", true))
            .Concat(stored.Select(s => new ChannelInfo(s.Id, s.Wallet, s.Mode, false))).ToList();
    }

    private IWalletConnector Build(string wallet, string configJson) =>
        (modules.Find(wallet) ?? throw new ArgumentException($"Unknown wallet {wallet}.", nameof(wallet))).Build(services, configJson);
}
