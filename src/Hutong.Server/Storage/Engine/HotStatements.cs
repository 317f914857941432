using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace Hutong.Server.Storage;

/// <summary>
/// Runs write batches (<see cref="WriteBatch"/>). On PostgreSQL the statements of one or many batches go as one NpgsqlBatch
/// (one round trip instead of one per statement); on SQLite they run in order on the writer, each compiled once and bound
/// by name straight from the parameter object's properties (<see cref="StatementCache.ExecuteBound"/>).
/// </summary>
internal static partial class HotStatements
{
    private static readonly ConcurrentDictionary<(Type, string), (string Name, PropertyInfo Property)[]> Bindings = new();
    private static readonly ConcurrentDictionary<(Type, string), (string Sql, PropertyInfo[] Properties)> Positional = new();

    /// <summary>Runs the batch's statements in order and records the rows each affected (one round trip on PostgreSQL).</summary>
    public static async Task ExecuteAsync(DbConnection c, DbTransaction t, WriteBatch write)
    {
        if (c is NpgsqlConnection pg)
        {
            await ExecuteAsync(pg, (NpgsqlTransaction)t, [write]);
            return;
        }

        for (var i = 0; i < write.Count; i++)
        {
            var (sql, param) = write[i];
            write.SetAffected(i, c is StatementCache writer
                ? writer.ExecuteBound(sql, Bindings.GetOrAdd((param.GetType(), sql), static key => Bind(key.Item1, key.Item2)), param, t)
                : await c.ExecuteAsync(sql, param, t));
        }
    }

    /// <summary>Runs the statements of all the batches, in order, in one round trip, and records the rows each affected.</summary>
    public static async Task ExecuteAsync(NpgsqlConnection c, NpgsqlTransaction t, IReadOnlyList<WriteBatch> writes)
    {
        await using var batch = new NpgsqlBatch(c, t);
        foreach (var write in writes)
        {
            for (var i = 0; i < write.Count; i++)
            {
                var s = write[i];
                var (sql, properties) = Positional.GetOrAdd((s.Param.GetType(), s.Sql), static key => ToPositional(key.Item1, key.Item2));
                var command = new NpgsqlBatchCommand(sql);
                foreach (var property in properties)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = property.GetValue(s.Param) ?? DBNull.Value });
                }

                batch.BatchCommands.Add(command);
            }
        }

        await batch.ExecuteNonQueryAsync();
        var at = 0;
        foreach (var write in writes)
        {
            for (var i = 0; i < write.Count; i++)
            {
                write.SetAffected(i, batch.BatchCommands[at++].RecordsAffected);
            }
        }
    }

    /// <summary>
    /// The statement with $1, $2… in place of its @names, and the property for each position. Npgsql sends SQL with
    /// positional parameters as it is; with named ones it parses every statement on every execution to rewrite them,
    /// which profiled at a fifth of the hub's CPU on PostgreSQL creates.
    /// </summary>
    private static (string Sql, PropertyInfo[] Properties) ToPositional(Type type, string sql)
    {
        var bindings = Bind(type, sql);
        var positional = ParameterPattern().Replace(sql, m =>
            "$" + (Array.FindIndex(bindings, b => string.Equals(b.Item1, "@" + m.Groups[1].Value, StringComparison.OrdinalIgnoreCase)) + 1));
        return (positional, bindings.Select(b => b.Item2).ToArray());
    }

    /// <summary>Each @name in the statement, bound to the parameter object's property of that name (case-insensitive, as Dapper does).</summary>
    private static (string, PropertyInfo)[] Bind(Type type, string sql) =>
        ParameterPattern().Matches(sql).Select(m => m.Groups[1].Value).Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(name => ("@" + name, type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)
                ?? throw new InvalidOperationException($"No property for @{name} on {type.Name}.")))
            .ToArray();

    [GeneratedRegex(@"@([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ParameterPattern();
}
