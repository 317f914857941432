using System.CommandLine;
using Spectre.Console;
using Hutong.Server;
using Hutong.Server.Features;
using Hutong.Server.Features.Channels;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Hutong.Cli;

/// <summary>
/// The operator's command line: the same store and services as the hub, no HTTP in between.
/// The store comes from --store/--connection, else Store__Provider / Store__ConnectionString, else appsettings.json.
/// </summary>
public static partial class HutongCli
{
    public static Task<int> RunAsync(string[] args, TextWriter output) => RunAsync(args, output, null);

    /// <param name="accounts">Tests pass sandbox wallet accounts; otherwise they come from configuration (Connectors:*).</param>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, WalletAccounts? accounts)
    {
        var commands = new Commands(output, accounts);
        var root = new RootCommand("hutong — operate a Hutong payment hub");
        root.Options.Add(commands.Store);
        root.Options.Add(commands.Connection);
        foreach (var command in commands.All())
        {
            root.Subcommands.Add(command);
        }

        var parsed = root.Parse(args);
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = output, EnableDefaultExceptionHandler = false });
        }
        catch (CliUsageException e)
        {
            await output.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is CliException or InvalidOperationException or ArgumentException or System.Text.Json.JsonException or FileNotFoundException)
        {
            await output.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>One method per command; each builds its arguments and its action. The store options are the root's, for every command.</summary>
    private sealed partial class Commands(TextWriter output, WalletAccounts? accounts)
    {
        public Option<StoreProvider?> Store { get; } = new("--store") { Description = "Sqlite or Postgres (default: configuration)", Recursive = true };

        public Option<string?> Connection { get; } = new("--connection") { Description = "Connection string (default: configuration)", Recursive = true };

        /// <summary>The top-level commands, in the order help lists them.</summary>
        public IEnumerable<Command> All() =>
        [
            Reconcile(),
            Group(new Command("ledger", "The double-entry ledger."), LedgerVerify(), LedgerBalances()),
            Group(new Command("channel", "Wallet accounts, direct or through an acquirer (credentials sealed with Hutong:MasterKey)."), ChannelAdd(), ChannelList()),
            Group(new Command("route", "Which channels a merchant's payments at a wallet go through."), RouteSet()),
            Migrate(),
            Group(new Command("merchant", "Merchants."), MerchantCreate()),
            Group(new Command("key", "API keys."), KeyCreate(), KeyRevoke()),
            Group(new Command("rollout", "Staged rollout of wallets."), RolloutSet(), RolloutExplain()),
            Group(new Command("event", "A merchant's events (kept 30 days) and their webhook deliveries; resend one or replay a time range."),
                EventList(), EventShow(), EventResend(), EventReplay()),
            VflCli.AddTo(WithSubcommand(CollabCli.Build(output, Config(), (r, work) => WithDbAsync(r, work)), CollabDataset()), output, Config(), (r, work) => WithDbAsync(r, work)),
            Group(new Command("console", "The web console at /console."), Group(new Command("user", "Console users."), ConsoleUserAdd())),
        ];

        private Command ConsoleUserAdd()
        {
            var email = new Argument<string>("email");
            var name = new Option<string?>("--name") { Description = "Display name (default: the email)" };
            var op = new Option<bool>("--operator") { Description = "A hub operator: sees and acts for every merchant" };
            var merchant = new Option<string?>("--merchant") { Description = "The merchant the user belongs to" };
            var role = new Option<string?>("--role") { Description = "owner | developer | support | finance (with --merchant)" };
            var add = new Command("add", "Create a console user; prints a generated password once (an owner then invites the others from the console).")
                { email, name, op, merchant, role };
            add.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var isOperator = r.GetValue(op);
                var merchantId = r.GetValue(merchant);
                var parsed = Hutong.Server.Features.Console.ConsolePermissions.Parse(r.GetValue(role) ?? (isOperator ? "operator" : null));
                if (isOperator == (merchantId is not null) || parsed is null || (parsed == Hutong.Server.Features.Console.ConsoleRole.Operator) != isOperator)
                {
                    throw new CliException("give either --operator, or --merchant ID --role owner|developer|support|finance");
                }

                if (merchantId is not null && await new MerchantStore(db, TimeProvider.System).GetAsync(merchantId, ct) is null)
                {
                    throw new CliException($"no merchant {merchantId}");
                }

                var password = Hutong.Domain.Ids.Token(18);
                var accounts = new Hutong.Server.Features.Console.ConsoleAccounts(db, new Hutong.Server.Features.Console.ConsoleStore(db), SecretBox.FromBase64(null), TimeProvider.System);
                var user = await accounts.CreateUserAsync(r.GetValue(email)!, r.GetValue(name) ?? r.GetValue(email)!, password, merchantId, parsed.Value, ct)
                    ?? throw new CliException($"a console user with email {r.GetValue(email)} exists already");
                await output.WriteLineAsync($"console user {user.Id} ({user.Email}, {user.Role}) created");
                await output.WriteLineAsync($"password (shown only now; sign in at /console/sign-in): {password}");
            }));
            return add;
        }

        private static Command WithSubcommand(Command group, Command subcommand)
        {
            group.Subcommands.Add(subcommand);
            return group;
        }

        private static Command Group(Command group, params Command[] subcommands)
        {
            foreach (var sub in subcommands)
            {
                group.Subcommands.Add(sub);
            }

            return group;
        }

        private Task<int> WithDbAsync(ParseResult r, Func<Db, Task> work, bool create = false) => HutongCli.WithDbAsync(r, Store, Connection, work, create);

        private Task<int> WithRegistryAsync(ParseResult r, Func<WalletRegistry, Db, Task> work) => HutongCli.WithRegistryAsync(r, Store, Connection, work);

        private Command Migrate()
        {
            var migrate = new Command("migrate", "Apply the schema migrations.");
            migrate.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var applied = await Migrator.MigrateAsync(db, ct);
                await output.WriteLineAsync(applied.Count == 0 ? "schema is up to date" : $"applied: {string.Join(", ", applied)}");
            }, create: true));
            return migrate;
        }

        private Command MerchantCreate()
        {
            var name = new Argument<string>("name") { Description = "Display name" };
            var createMerchant = new Command("create", "Onboard a merchant; prints its API key once.") { name };
            createMerchant.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var (m, key) = await new MerchantStore(db, TimeProvider.System).CreateMerchantAsync(r.GetValue(name)!, ct);
                await output.WriteLineAsync($"merchant {m.Id} created");
                await output.WriteLineAsync($"api key {key.Id}: {key.Secret}");
                await output.WriteLineAsync("(the key is shown only now; store it in the merchant's secret store)");
            }));
            return createMerchant;
        }

        private Command KeyCreate()
        {
            var merchantId = new Argument<string>("merchant-id");
            var createKey = new Command("create", "Issue another API key for a merchant (for rotation).") { merchantId };
            createKey.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var issued = await new MerchantStore(db, TimeProvider.System).CreateKeyAsync(r.GetValue(merchantId)!, ct)
                    ?? throw new CliException($"no merchant {r.GetValue(merchantId)}");
                await output.WriteLineAsync($"api key {issued.Id}: {issued.Secret}");
            }));
            return createKey;
        }

        private Command KeyRevoke()
        {
            var keyId = new Argument<string>("key-id");
            var revokeKey = new Command("revoke", "Revoke an API key (hubs stop accepting it within 30 seconds).") { keyId };
            revokeKey.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                if (!await new MerchantStore(db, TimeProvider.System).RevokeKeyAsync(r.GetValue(keyId)!, ct))
                {
                    throw new CliException($"no active key {r.GetValue(keyId)}");
                }

                await output.WriteLineAsync($"api key {r.GetValue(keyId)} revoked");
            }));
            return revokeKey;
        }

        private static EventService Events(Db db) =>
            new(db, new WebhookStore(db), Options.Create(Config().GetSection(HubOptions.Section).Get<HubOptions>() ?? new HubOptions()), TimeProvider.System);

        /// <summary>The service's answer, or the problem it refused with as the command's error (exit 1).</summary>
        private static T Value<T>(Hutong.Domain.Outcome<T> outcome) =>
            outcome.Failure is { } f
                ? throw new CliException(f.Title + (f.Detail is null ? string.Empty : " " + f.Detail) + (f.Param is null ? string.Empty : $" ({f.Param})")
                    + (f.Errors is null ? string.Empty : " " + string.Join(" ", f.Errors.SelectMany(e => e.Value))))
                : outcome.Value!;

        private async Task PrintJsonAsync<T>(T value) =>
            await output.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(value, new System.Text.Json.JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));

        private Command EventList()
        {
            var merchant = new Argument<string>("merchant-id");
            var type = new Option<string?>("--type") { Description = "Only events of this type (payment.succeeded, …)" };
            var objectId = new Option<string?>("--object") { Description = "Only events about this object (pay_…, re_…)" };
            var limit = new Option<int>("--limit") { Description = "1-100", DefaultValueFactory = _ => 20 };
            var after = new Option<string?>("--starting-after") { Description = "The last event id of the previous page" };
            var list = new Command("list", "List a merchant's events, newest first.") { merchant, type, objectId, limit, after };
            list.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var page = Value(await Events(db).ListAsync(r.GetValue(merchant)!, r.GetValue(limit), r.GetValue(after), r.GetValue(type), r.GetValue(objectId), ct));
                foreach (var e in page.Data)
                {
                    var about = e.Data.TryGetProperty("object", out var o) && o.TryGetProperty("id", out var id) ? id.GetString() : null;
                    await output.WriteLineAsync($"{e.Id}\t{e.Type}\t{e.CreatedAt:O}\t{about}");
                }

                await output.WriteLineAsync(page.HasMore ? $"more: --starting-after {page.NextCursor}" : $"{page.Data.Count} event(s)");
            }));
            return list;
        }

        private Command EventShow()
        {
            var merchant = new Argument<string>("merchant-id");
            var id = new Argument<string>("event-id");
            var show = new Command("show", "An event with its delivery to each webhook endpoint and every attempt (status, latency, response snippet).") { merchant, id };
            show.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
                await PrintJsonAsync(Value(await Events(db).GetAsync(r.GetValue(merchant)!, r.GetValue(id)!, ct)))));
            return show;
        }

        private Command EventResend()
        {
            var merchant = new Argument<string>("merchant-id");
            var id = new Argument<string>("event-id");
            var endpoint = new Option<string?>("--endpoint") { Description = "One webhook endpoint (we_…); default: every enabled endpoint that takes the event" };
            var resend = new Command("resend", "Send an event again (same id, so receivers dedupe); the hubs' dispatchers deliver it.") { merchant, id, endpoint };
            resend.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
                await PrintJsonAsync(Value(await Events(db).ResendAsync(r.GetValue(merchant)!, r.GetValue(id)!, r.GetValue(endpoint), null, ct)))));
            return resend;
        }

        private Command EventReplay()
        {
            var merchant = new Argument<string>("merchant-id");
            var from = new Option<DateTimeOffset>("--from") { Description = "Start of the range, inclusive (ISO 8601)", Required = true };
            var to = new Option<DateTimeOffset>("--to") { Description = "End of the range, exclusive (ISO 8601)", Required = true };
            var type = new Option<string?>("--type") { Description = "Only events of this type" };
            var endpoint = new Option<string?>("--endpoint") { Description = "One webhook endpoint (we_…); default: every enabled endpoint" };
            var replay = new Command("replay", "Send a merchant's events created in [from, to) again, e.g. after its endpoint was down (bounded: Hutong:Webhooks:ReplayMaxRange, ReplayMaxEvents).")
                { merchant, from, to, type, endpoint };
            replay.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
                await PrintJsonAsync(Value(await Events(db).ReplayAsync(
                    r.GetValue(merchant)!, new ReplayEventsRequest(new CreatedRange(r.GetValue(from), r.GetValue(to)), r.GetValue(type), r.GetValue(endpoint)), null, ct)))));
            return replay;
        }

        private Command RolloutSet()
        {
            var rMerchant = new Argument<string>("merchant-id");
            var rWallet = new Argument<string>("wallet");
            var percentage = new Option<int>("--percentage") { Description = "0-100 (stable per user)", DefaultValueFactory = _ => 100 };
            var allow = new Option<string[]>("--allow") { Description = "User ids always offered", AllowMultipleArgumentsPerToken = true };
            var deny = new Option<string[]>("--deny") { Description = "User ids never offered", AllowMultipleArgumentsPerToken = true };
            var categories = new Option<string[]>("--categories") { Description = "Only these product categories", AllowMultipleArgumentsPerToken = true };
            var kill = new Option<bool>("--kill-switch") { Description = "Offer to nobody" };
            var set = new Command("set", "Set who is offered a wallet.") { rMerchant, rWallet, percentage, allow, deny, categories, kill };
            set.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                if (r.GetValue(percentage) is < 0 or > 100)
                {
                    throw new CliException("--percentage is 0 to 100");
                }

                var dto = new RolloutRuleDto(r.GetValue(percentage), r.GetValue(kill), r.GetValue(allow), r.GetValue(deny),
                    r.GetValue(categories) is { Length: > 0 } c ? c : null);
                await new RolloutService(db, TimeProvider.System).SaveAsync(r.GetValue(rMerchant)!, r.GetValue(rWallet)!, dto, ct);
                await output.WriteLineAsync($"{r.GetValue(rWallet)}: {dto.Percentage}%{(dto.KillSwitch == true ? " (kill switch ON)" : string.Empty)} for {r.GetValue(rMerchant)}");
            }));
            return set;
        }

        private Command RolloutExplain()
        {
            var rMerchant = new Argument<string>("merchant-id");
            var rWallet = new Argument<string>("wallet");
            var user = new Option<string?>("--user") { Description = "The buyer's user id" };
            var category = new Option<string?>("--category") { Description = "The product category" };
            var explain = new Command("explain", "Why is a wallet offered (or not) to a user?") { rMerchant, rWallet, user, category };
            explain.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var wallet = r.GetValue(rWallet)!;
                var d = await new RolloutService(db, TimeProvider.System).DecideAsync(r.GetValue(rMerchant)!, wallet, r.GetValue(user), r.GetValue(category), ct);
                await output.WriteLineAsync($"{(d.Offered ? "offered" : "not offered")}: {RolloutService.Explain(wallet, d, r.GetValue(user), r.GetValue(category))}");
            }));
            return explain;
        }

        private Command ChannelAdd()
        {
            var chId = new Argument<string>("id");
            var chWallet = new Option<string>("--wallet") { Description = new WalletCatalog(Wallets.Builtin).Describe(), Required = true };
            var chMode = new Option<string>("--mode") { Description = "direct or acquirer", DefaultValueFactory = _ => "direct" };
            var chConfig = new Option<FileInfo>("--config-file") { Description = "JSON with the account's settings (as under Connectors:<Wallet>)", Required = true };
            var addChannel = new Command("add", "Add a channel; its credentials are checked, then stored encrypted.") { chId, chWallet, chMode, chConfig };
            addChannel.SetAction(async (r, ct) => await WithRegistryAsync(r, async (registry, _) =>
            {
                var id = r.GetValue(chId)!;
                if (registry.IsWalletName(id))
                {
                    throw new CliException("a channel cannot take a wallet's own name");
                }

                using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(r.GetValue(chConfig)!.FullName, ct));
                await registry.AddChannelAsync(id, r.GetValue(chWallet)!, r.GetValue(chMode)!, doc.RootElement, ct);
                await output.WriteLineAsync($"channel {id} ({r.GetValue(chWallet)}, {r.GetValue(chMode)}) added; credentials stored encrypted");
            }));
            return addChannel;
        }

        private Command ChannelList()
        {
            var listChannels = new Command("list", "List channels (never their credentials).");
            listChannels.SetAction(async (r, ct) => await WithRegistryAsync(r, async (registry, _) =>
            {
                foreach (var c in await registry.ListAsync(ct))
                {
                    await output.WriteLineAsync($"{c.Id}\t{c.Wallet}\t{c.Mode}");
                }
            }));
            return listChannels;
        }

        private Command RouteSet()
        {
            var routeMerchant = new Argument<string>("merchant-id");
            var routeWallet = new Argument<string>("wallet");
            var routeChannels = new Option<string[]>("--channels") { Description = "Channel ids, primary first", Required = true, AllowMultipleArgumentsPerToken = true };
            var setRoute = new Command("set", "Route a merchant's payments at a wallet through channels (primary, then fallbacks).") { routeMerchant, routeWallet, routeChannels };
            setRoute.SetAction(async (r, ct) => await WithRegistryAsync(r, async (registry, db) =>
            {
                var wallet = r.GetValue(routeWallet)!;
                foreach (var c in r.GetValue(routeChannels)!)
                {
                    if (await registry.ChannelAsync(c, ct) is not { } connector || connector.Wallet != wallet)
                    {
                        throw new CliException($"channel {c} does not exist or does not reach {wallet}");
                    }
                }

                var rules = r.GetValue(routeChannels)!.Select(c => new RouteRule(c, null, null, null, null)).ToList();
                await new RoutingService(db, TimeProvider.System).SaveAsync(r.GetValue(routeMerchant)!, wallet, rules, ct);
                await output.WriteLineAsync($"{wallet} for {r.GetValue(routeMerchant)}: {string.Join(" → ", rules.Select(x => x.Channel))}");
            }));
            return setRoute;
        }

        private Command LedgerVerify()
        {
            var verify = new Command("verify", "Re-derive every entry's hash chain link and balance: finds any edited, removed or unbalanced entry.");
            verify.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var result = await new LedgerStore(db).VerifyAsync(null, ct);
                foreach (var problem in result.Problems)
                {
                    await output.WriteLineAsync($"BROKEN {problem}");
                }

                if (!result.Ok)
                {
                    throw new CliException($"ledger verification failed: {result.Problems.Count} problem(s) in {result.Entries} entries");
                }

                await output.WriteLineAsync($"ledger ok: {result.Entries} entries, hash chain intact, every entry balanced");
            }));
            return verify;
        }

        private Command LedgerBalances()
        {
            var prefix = new Option<string?>("--account") { Description = "Only accounts starting with this (e.g. merchant_payable:)" };
            var balances = new Command("balances", "Balances per account and currency, in minor units (debit positive).") { prefix };
            balances.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                foreach (var (account, currency, balance) in await new LedgerStore(db).BalancesAsync(r.GetValue(prefix), ct))
                {
                    await output.WriteLineAsync($"{account}\t{currency}\t{balance}");
                }
            }));
            return balances;
        }

        private Command Reconcile()
        {
            var recDate = new Option<string?>("--date") { Description = "Bill date, yyyy-MM-dd in China time (default: yesterday)" };
            var html = new Option<FileInfo?>("--html") { Description = "Write the report as HTML here" };
            var csv = new Option<FileInfo?>("--csv") { Description = "Write the discrepancies as CSV here" };
            var reconcile = new Command("reconcile", "对账: download every channel's bill for a day and match it against the hub; exits 1 if anything is left open.") { recDate, html, csv };
            reconcile.SetAction(async (r, ct) =>
            {
                var date = BillDate(r.GetValue(recDate));
                var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(output) });
                var report = await ReconcileAsync(r, date, console, ct);
                await PrintAsync(report, console);
                if (r.GetValue(html) is { } h)
                {
                    await File.WriteAllTextAsync(h.FullName, Hutong.Server.Features.Reconciliation.ReconciliationReportWriter.Html(report), ct);
                }

                if (r.GetValue(csv) is { } f)
                {
                    await File.WriteAllTextAsync(f.FullName, Hutong.Server.Features.Reconciliation.ReconciliationReportWriter.Csv(report), ct);
                }

                var open = report.Discrepancies.Count(x => x.Resolution == "open");
                if (open > 0 || report.Channels.Any(c => c.Status != "completed"))
                {
                    throw new CliException($"{open} open discrepancies; {report.Channels.Count(c => c.Status != "completed")} channel(s) without a bill");
                }

                await output.WriteLineAsync("all bills reconciled");
                return 0;
            });
            return reconcile;
        }

        /// <summary>--date, or yesterday in China time.</summary>
        private static DateOnly BillDate(string? given)
        {
            var china = DateTimeOffset.UtcNow.ToOffset(Hutong.Server.Features.Reconciliation.ReconciliationService.China);
            var date = DateOnly.FromDateTime(china.DateTime).AddDays(-1);
            if (given is { } d && !DateOnly.TryParseExact(d, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out date))
            {
                throw new CliException("--date must be yyyy-MM-dd");
            }

            return date;
        }

        /// <summary>Runs the hub's own reconciliation on the existing store, showing progress per channel.</summary>
        private async Task<Hutong.Server.Features.Reconciliation.ReconciliationReport> ReconcileAsync(ParseResult r, DateOnly date, IAnsiConsole console, CancellationToken ct)
        {
            var (provider, connectionString) = StoreOf(r, Store, Connection);
            await RequireExistingStoreAsync(new StoreOptions { Provider = provider, ConnectionString = connectionString });
            await using var hub = await HubApp.BuildAsync([], b =>
            {
                b.Logging.ClearProviders();
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Store:Provider"] = provider.ToString(),
                    ["Store:ConnectionString"] = connectionString,
                });
            }, accounts);
            await Migrator.MigrateAsync(hub.App.Services.GetRequiredService<Db>(), ct);
            var svc = hub.App.Services.GetRequiredService<Hutong.Server.Features.Reconciliation.ReconciliationService>();
            Hutong.Server.Features.Reconciliation.ReconciliationReport report = null!;
            await console.Progress().StartAsync(async p =>
            {
                var task = p.AddTask($"对账 {date:yyyy-MM-dd}");
                report = await svc.RunAsync(date, new System.Progress<(string Channel, int Done, int Total)>(x =>
                {
                    task.MaxValue = Math.Max(1, x.Total);
                    task.Value = x.Done;
                    task.Description = $"对账 {date:yyyy-MM-dd} {x.Channel}";
                }), ct);
                task.Value = task.MaxValue;
            });
            return report;
        }

        /// <summary>A table per channel, then one line per discrepancy.</summary>
        private async Task PrintAsync(Hutong.Server.Features.Reconciliation.ReconciliationReport report, IAnsiConsole console)
        {
            if (report.Channels.Count == 0)
            {
                // Nothing to download is not "all reconciled": the wallets of a --demo hub, say, live inside that hub.
                throw new CliException("no wallet channel is configured here (Connectors:* settings or `hutong channel add`): nothing was reconciled. "
                    + "A --demo hub's sandbox wallets run inside that hub: reconcile there with POST /admin/reconciliations.");
            }

            var table = new Spectre.Console.Table().AddColumns("channel", "wallet", "status", "bill lines", "matched", "repaired", "open");
            foreach (var c in report.Channels)
            {
                table.AddRow(c.Channel, c.Wallet, c.Status + (c.Error is null ? string.Empty : $" ({Spectre.Console.Markup.Escape(c.Error)})"), $"{c.BillLines}", $"{c.Matched}", $"{c.Repaired}",
                    $"{c.Discrepancies.Count(x => x.Resolution == "open")}");
            }

            console.Write(table);
            foreach (var x in report.Discrepancies)
            {
                await output.WriteLineAsync($"{x.Resolution.ToUpperInvariant()} {x.Kind} {x.Channel} {x.OutTradeNo} {x.OutRefundNo} hub={x.HubAmount} wallet={x.WalletAmount}: {x.Detail}");
            }
        }
    }

    private static Task<int> WithRegistryAsync(ParseResult r, Option<StoreProvider?> store, Option<string?> connection, Func<WalletRegistry, Db, Task> work) =>
        WithDbAsync(r, store, connection, async db =>
        {
            var catalog = new WalletCatalog(Wallets.Builtin);
            var collection = new ServiceCollection().AddLogging();
            foreach (var m in catalog.All)
            {
                m.AddConnector(collection, null); // the wallets' HttpClients, as the hub has them
            }

            await using var services = collection.BuildServiceProvider();
            var registry = new WalletRegistry([], catalog, db, SecretBox.FromBase64(Config()[$"{HubOptions.Section}:MasterKey"]),
                services, TimeProvider.System, Options.Create(new HubOptions()));
            await work(registry, db);
        });

    private static IConfigurationRoot Config() =>
        new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables().Build();

    private static (StoreProvider Provider, string ConnectionString) StoreOf(ParseResult r, Option<StoreProvider?> store, Option<string?> connection)
    {
        var options = Config().GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        return (r.GetValue(store) ?? options.Provider, r.GetValue(connection) ?? options.ConnectionString);
    }

    /// <param name="create">Only <c>migrate</c> may create a database; every other command needs the hub's existing one.</param>
    private static async Task<int> WithDbAsync(ParseResult r, Option<StoreProvider?> store, Option<string?> connection, Func<Db, Task> work, bool create = false)
    {
        var options = Config().GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        (options.Provider, options.ConnectionString) = StoreOf(r, store, connection);
        if (!create)
        {
            await RequireExistingStoreAsync(options);
        }

        await Console.Error.WriteLineAsync($"store: {options.Describe()}");
        await using var db = new Db(options);
        await Migrator.MigrateAsync(db, CancellationToken.None);
        await work(db);
        return 0;
    }

    /// <summary>
    /// A command that reads must not quietly make a new, empty database (and then report on it): the store must exist
    /// and hold Hutong's schema.
    /// </summary>
    private static async Task RequireExistingStoreAsync(StoreOptions options)
    {
        var hint = "start the hub once (it creates its store), run `hutong migrate`, or point --store/--connection at the hub's store";
        if (options.Provider == StoreProvider.Sqlite)
        {
            if (!File.Exists(options.SqlitePath))
            {
                throw new CliException($"no Hutong database at {options.SqlitePath}: {hint}");
            }

            return;
        }

        await using var c = new Npgsql.NpgsqlConnection(options.ConnectionString);
        try
        {
            await c.OpenAsync();
        }
        catch (Npgsql.NpgsqlException e)
        {
            throw new CliException($"cannot reach {options.Describe()}: {e.Message}");
        }

        await using var q = new Npgsql.NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", c);
        if (await q.ExecuteScalarAsync() is not true)
        {
            throw new CliException($"{options.Describe()} has no Hutong schema: {hint}");
        }
    }
}

public sealed class CliException(string message) : Exception(message);

/// <summary>Bad input to a command that distinguishes it (exit code 2; a failure is 1): `hutong collab train|score|evaluate`.</summary>
public sealed class CliUsageException(string message) : Exception(message);
