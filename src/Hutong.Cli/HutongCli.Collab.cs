using System.CommandLine;
using Hutong.Collab.Data;
using Hutong.Server.Collab.DataSets;
using Hutong.Server.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Hutong.Cli;

/// <summary><c>hutong collab dataset …</c>: a party's data sets for cooperation jobs, on the hub's store.</summary>
public static partial class HutongCli
{
    private sealed partial class Commands
    {
        private static CollabDataSetService DataSets(Db db)
        {
            var limits = Config().GetSection(CollabDataSetLimits.Section).Get<CollabDataSetLimits>() ?? new CollabDataSetLimits();
            return new CollabDataSetService(db, new CollabDataSetStore(db), Options.Create(limits), TimeProvider.System);
        }

        private Command CollabDataset() => Group(new Command("dataset", "A party's data sets: conversions (E) or exposures (A); only normalised ids are stored."),
            DatasetUpload(), DatasetFromPayments(), DatasetList(), DatasetShow(), DatasetDelete());

        private Command DatasetUpload()
        {
            var file = new Argument<FileInfo>("file") { Description = "CSV (RFC 4180, UTF-8, header row) or Parquet" };
            var name = new Option<string?>("--name") { Description = "A name for the data set (default: the file's name)" };
            var kind = new Option<string>("--kind") { Description = "conversions or exposures", Required = true };
            var idColumn = new Option<string>("--id-column") { Description = "The id column", DefaultValueFactory = _ => "id" };
            var idRule = new Option<string>("--id-rule") { Description = "phone (E.164), device (lower-case hex) or opaque (trimmed)", Required = true };
            var valueColumn = new Option<string?>("--value-column") { Description = "Conversions: the purchase value column" };
            var valueFormat = new Option<string>("--value-format") { Description = "minor (whole fen) or amount (a decimal in yuan, converted exactly)", DefaultValueFactory = _ => "minor" };
            var timeColumn = new Option<string?>("--time-column") { Description = "The time column: Unix seconds or ISO 8601 with an offset" };
            var campaignColumn = new Option<string?>("--campaign-column") { Description = "Exposures: the campaign column" };
            var groupColumn = new Option<string?>("--group-column") { Description = "Exposures: the test/control column" };
            var currency = new Option<string>("--currency") { DefaultValueFactory = _ => "CNY" };
            var duplicates = new Option<string>("--duplicates") { Description = "Conversions: refuse (default) or sum the values of an id seen more than once", DefaultValueFactory = _ => "refuse" };
            var format = new Option<string?>("--format") { Description = "csv or parquet (default: by the file's extension)" };
            var upload = new Command("upload", "Upload a data set from a file, streamed; either the whole data set is stored or nothing (exit 1 with the rows refused).")
                { file, name, kind, idColumn, idRule, valueColumn, valueFormat, timeColumn, campaignColumn, groupColumn, currency, duplicates, format };
            upload.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var f = r.GetValue(file)!;
                var source = (r.GetValue(format) ?? (f.Extension.Equals(".parquet", StringComparison.OrdinalIgnoreCase) ? "parquet" : "csv")) switch
                {
                    "csv" => DataSetSource.Csv,
                    "parquet" => DataSetSource.Parquet,
                    _ => throw new CliException("--format must be csv or parquet"),
                };
                var options = new DataSetUploadOptions
                {
                    Name = r.GetValue(name) ?? f.Name,
                    Kind = DataSetWire.Kind(r.GetValue(kind)) ?? throw new CliException("--kind must be conversions or exposures"),
                    Rule = DataSetWire.Rule(r.GetValue(idRule)) ?? throw new CliException("--id-rule must be phone, device or opaque"),
                    IdColumn = r.GetValue(idColumn)!,
                    ValueColumn = r.GetValue(valueColumn),
                    ValueFormat = DataSetWire.Format(r.GetValue(valueFormat)) ?? throw new CliException("--value-format must be minor or amount"),
                    TimeColumn = r.GetValue(timeColumn),
                    CampaignColumn = r.GetValue(campaignColumn),
                    GroupColumn = r.GetValue(groupColumn),
                    Currency = r.GetValue(currency)!,
                    Duplicates = DataSetWire.Duplicates(r.GetValue(duplicates)) ?? throw new CliException("--duplicates must be refuse or sum"),
                };
                await using var stream = new FileStream(f.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
                await PrintDataSetAsync(Value(await DataSets(db).UploadAsync(stream, source, options, null, ct)));
            }));
            return upload;
        }

        private Command DatasetFromPayments()
        {
            var merchant = new Option<string>("--merchant") { Description = "The merchant (mch_…) whose succeeded payments are E's conversions", Required = true };
            var from = new Option<string>("--from") { Description = "Paid at or after: yyyy-MM-dd (China time) or ISO 8601 with an offset", Required = true };
            var to = new Option<string?>("--to") { Description = "Paid before (default: now)" };
            var category = new Option<string?>("--category") { Description = "Only payments of this product category" };
            var idRule = new Option<string>("--id-rule") { Description = "How buyer_id is normalised: opaque (default), phone or device", DefaultValueFactory = _ => "opaque" };
            var currency = new Option<string>("--currency") { DefaultValueFactory = _ => "CNY" };
            var name = new Option<string?>("--name") { Description = "A name for the data set" };
            var build = new Command("from-payments", "Build a conversions data set from this hub's succeeded payments: buyer_id, amount − refunded per buyer, first paid time.")
                { merchant, from, to, category, idRule, currency, name };
            build.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var start = When(r.GetValue(from)!, "--from");
                DateTimeOffset? end = r.GetValue(to) is { } t ? When(t, "--to") : null;
                var request = new FromPaymentsRequest(r.GetValue(name) ?? $"payments of {r.GetValue(merchant)}", r.GetValue(merchant)!, start, end, r.GetValue(category),
                    DataSetWire.Rule(r.GetValue(idRule)) ?? throw new CliException("--id-rule must be phone, device or opaque"), r.GetValue(currency)!);
                await PrintDataSetAsync(Value(await DataSets(db).FromPaymentsAsync(request, null, ct)));
            }));
            return build;
        }

        private static DateTimeOffset When(string s, string option) =>
            CollabValues.ParseTime(s) is { } seconds ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : throw new CliException($"{option} must be yyyy-MM-dd (China time), ISO 8601 with an offset, or Unix seconds");

        private Command DatasetList()
        {
            var list = new Command("list", "The data sets, newest first: id, kind, state, rows, id rule, name.");
            list.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                var all = Value(await DataSets(db).ListAsync(ct)).Data;
                foreach (var d in all)
                {
                    await output.WriteLineAsync($"{d.Id}\t{d.Kind}\t{d.State}\t{d.Rows} rows\t{d.IdRuleName}\t{d.Name}");
                }

                await output.WriteLineAsync($"{all.Count} data set(s)");
            }));
            return list;
        }

        private Command DatasetShow()
        {
            var id = new Argument<string>("dataset-id");
            var show = new Command("show", "A data set: counts, value total, id rule and the options it was read with.") { id };
            show.SetAction(async (r, ct) => await WithDbAsync(r, async db => await PrintJsonAsync(Value(await DataSets(db).GetAsync(r.GetValue(id)!, ct)))));
            return show;
        }

        private Command DatasetDelete()
        {
            var id = new Argument<string>("dataset-id");
            var delete = new Command("delete", "Delete a data set and all its rows.") { id };
            delete.SetAction(async (r, ct) => await WithDbAsync(r, async db =>
            {
                _ = Value(await DataSets(db).DeleteAsync(r.GetValue(id)!, ct));
                await output.WriteLineAsync($"data set {r.GetValue(id)} deleted");
            }));
            return delete;
        }

        private async Task PrintDataSetAsync(CollabDataSetDto d)
        {
            await output.WriteLineAsync($"data set {d.Id} ready: {d.Rows} rows ({d.InputRows} read, {d.MergedRows} merged), {d.Kind}, ids {d.IdRuleName}, value total {d.ValueTotal} {d.Currency} minor units");
        }
    }
}
