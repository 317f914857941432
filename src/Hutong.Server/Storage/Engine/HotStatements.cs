using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace Hutong.Server.Storage;

/// <summary>One SQL statement and the object whose properties fill its @parameters.</summary>
public sealed record Statement(string Sql, object Param);

/// <summary>
/// The statements of one write, known up front. On PostgreSQL they go as one batch (one round trip instead of one per
/// statement); on SQLite they run in order on the writer, each compiled once and bound by name straight from the
/// parameter object's properties (<see cref="StatementCache.ExecuteBound"/>).
/// </summary>
public static partial class HotStatements
{
    private static readonly ConcurrentDictionary<(Type, string), (string Name, PropertyInfo Property)[]> Bindings = new();
    private static readonly ConcurrentDictionary<(Type, string), (string Sql, PropertyInfo[] Properties)> Positional = new();

    /// <summary>Runs the statements in order and returns the rows each affected (one round trip on PostgreSQL).</summary>
    public static async Task<int[]> ExecuteAsync(DbConnection c, DbTransaction t, params Statement[] statements)
    {
        if (c is NpgsqlConnection pg)
        {
            await using var batch = new NpgsqlBatch(pg, (NpgsqlTransaction)t);
            foreach (var s in statements)
            {
                var (sql, properties) = Positional.GetOrAdd((s.Param.GetType(), s.Sql), static key => ToPositional(key.Item1, key.Item2));
                var command = new NpgsqlBatchCommand(sql);
                foreach (var property in properties)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = property.GetValue(s.Param) ?? DBNull.Value });
                }

                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync();
            return batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(b => b.RecordsAffected).ToArray();
        }

        var affected = new int[statements.Length];
        for (var i = 0; i < statements.Length; i++)
        {
            var (sql, param) = (statements[i].Sql, statements[i].Param);
            affected[i] = c is StatementCache writer
                ? writer.ExecuteBound(sql, Bindings.GetOrAdd((param.GetType(), sql), static key => Bind(key.Item1, key.Item2)), param, t)
                : await c.ExecuteAsync(sql, param, t);
        }

        return affected;
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
