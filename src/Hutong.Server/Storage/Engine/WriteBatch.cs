namespace Hutong.Server.Storage;

/// <summary>One SQL statement and the object whose properties fill its @parameters.</summary>
public sealed record Statement(string Sql, object Param);

/// <summary>
/// A write made only of statements known up front (how payments are created), run in the order added, in one transaction,
/// by <see cref="Db.WriteAsync(WriteBatch, CancellationToken)"/>. Each statement added gives a handle that reads the rows
/// it affected once the write has completed; a check given with a statement sees those rows before the commit, and
/// throwing from it rolls the whole write back. The engine may run a batch more than once (a group it shared rolled back
/// and each of its writes ran again alone), so checks must be pure. One batch per write; it cannot be submitted twice.
/// </summary>
public sealed class WriteBatch(int capacity = 4)
{
    private Entry[] _entries = new Entry[Math.Max(1, capacity)];
    private bool _submitted;

    internal int Count { get; private set; }

    /// <summary>Once run: true when a statement added webhook deliveries (an event fanned out as inserted, see Outbox.AddHandedOver).</summary>
    internal bool AddedDeliveries
    {
        get
        {
            for (var i = 0; i < Count; i++)
            {
                if (_entries[i].Rows > 0 && Outbox.AddsDeliveries(_entries[i].Statement.Sql))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Adds a statement; <paramref name="check"/>, if any, is given the rows it affected before the commit.</summary>
    public Affected Add(Statement statement, Action<int>? check = null)
    {
        if (_submitted)
        {
            throw new InvalidOperationException("The batch was already submitted.");
        }

        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        _entries[Count] = new Entry(statement, check);
        return new Affected(this, Count++);
    }

    internal Statement this[int index] => _entries[index].Statement;

    internal void Submit()
    {
        if (_submitted)
        {
            throw new InvalidOperationException("The batch was already submitted.");
        }

        _submitted = true;
    }

    internal void SetAffected(int index, int rows) => _entries[index].Rows = rows;

    /// <summary>Each statement's check, in order, once all of them ran.</summary>
    internal void Check()
    {
        for (var i = 0; i < Count; i++)
        {
            _entries[i].Check?.Invoke(_entries[i].Rows);
        }
    }

    private struct Entry(Statement statement, Action<int>? check)
    {
        public readonly Statement Statement = statement;
        public readonly Action<int>? Check = check;
        public int Rows;
    }

    /// <summary>A statement's place in its batch: the rows it affected, to read once the write has completed.</summary>
    public readonly struct Affected
    {
        private readonly WriteBatch? _batch;
        private readonly int _index;

        internal Affected(WriteBatch batch, int index) => (_batch, _index) = (batch, index);

        public int Rows => _batch is null ? throw new InvalidOperationException("Not a statement of a batch.") : _batch._entries[_index].Rows;
    }
}
