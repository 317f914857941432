using System.Diagnostics;
using System.Numerics;
using System.Security.Cryptography;
using Hutong.Collab.Vfl.Crypto;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;

namespace Hutong.Collab.Vfl.Protocol;

/// <summary>
/// One party of two-party hetero logistic regression without an arbiter (see docs/collab-vfl.md). Each party holds its
/// own features, its own weights and its own Paillier key pair; the guest also holds the labels. Per mini-batch, with the
/// Taylor residual d_i = ¼(u_G,i + u_H,i) + ½ − y_i split into a guest term a_i = ¼u_G,i + ½ − y_i and a host term
/// h_i = ¼u_H,i:
/// <list type="number">
/// <item>each party encrypts its own term under its own key and sends it (ResidualTerms);</item>
/// <item>each adds its own term to the peer's ciphertexts, Enc_peer(d_i), computes Enc_peer(Σ_i x_ij·d_i) for each of
/// its features j (bucket multi-exponentiation), packs 19 gradients to a ciphertext, adds uniform 104-bit masks and
/// re-randomises (MaskedGradient);</item>
/// <item>each decrypts the peer's packed ciphertexts under its own key and returns the masked sums (MaskedGradientPlain);
/// the peer removes its masks and updates its weights.</item>
/// </list>
/// Messages are bytes on an <see cref="IVflChannel"/>; nothing else passes between the parties.
/// </summary>
public sealed class VflParty : IDisposable
{
    private readonly VflOptions options;
    private readonly AlignedData data;
    private readonly double[][] cols; // quantized feature values (guest: intercept column first)
    private readonly short[][] xq;
    private readonly int[] train;
    private readonly int[] holdout;
    private readonly byte[] digest;
    private readonly PaillierKeyPair own;
    private readonly Dictionary<string, int> rowOf;
    private PaillierPublicKey? peer;
    private int peerFeatures;
    private double[] weights;
    private int epoch;
    private bool stopped;
    private VflCheckpoint? previous;

    public VflParty(VflRole role, AlignedData data, VflOptions options, VflCheckpoint? resume = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (role == VflRole.Guest && data.Labels is null)
        {
            throw new ArgumentException("The guest needs the labels.", nameof(data));
        }

        if (role == VflRole.Host && data.Labels is not null)
        {
            throw new ArgumentException("The host holds no labels.", nameof(data));
        }

        Role = role;
        this.options = options;
        this.data = data;
        var raw = role == VflRole.Guest ? new[] { Enumerable.Repeat(1.0, data.Rows).ToArray() }.Concat(data.Columns).ToArray() : data.Columns;
        xq = [.. raw.Select(c => c.Select(FixedPoint.Feature).ToArray())];
        cols = [.. xq.Select(c => c.Select(FixedPoint.FeatureValue).ToArray())];
        (train, holdout) = options.Split(data.Rows);
        digest = options.JobDigest(data.Ids, 0, 0);
        rowOf = new Dictionary<string, int>(data.Rows, StringComparer.Ordinal);
        for (var i = 0; i < data.Rows; i++)
        {
            rowOf[data.Ids[i]] = i;
        }

        weights = new double[xq.Length];
        if (resume is not null)
        {
            Restore(resume);
        }

        own = PaillierKeyPair.Generate();
    }

    public VflRole Role { get; }

    public int Epoch => epoch;

    public bool Stopped => stopped;

    /// <summary>This party's weights (the guest's intercept first). Never sent.</summary>
    public IReadOnlyList<double> Weights => weights;

    public int FeatureCount => xq.Length;

    public VflCheckpoint Checkpoint() => new(Role, Convert.ToHexString(digest), epoch, (double[])weights.Clone(), stopped, previous);

    /// <summary>Exchanges keys and the job digest, and agrees on the epoch to start from.</summary>
    public async Task ConnectAsync(IVflChannel channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        await SendAsync(channel, VflMessageType.Hello, 0, 0,
            [own.Public.Export(), digest, VflMessage.Int(epoch), VflMessage.Int(xq.Length), VflMessage.Int((int)Role)], cancellationToken);
        var hello = await ReceiveAsync(channel, VflMessageType.Hello, cancellationToken);
        if (hello.Items.Count != 5 || !CryptographicOperations.FixedTimeEquals(hello.Items[1], digest))
        {
            throw new VflProtocolException("job_mismatch", "The peer is not on the same job (options, intersection or feature grid differ).");
        }

        if (VflMessage.ReadInt(hello.Items[4]) == (int)Role)
        {
            throw new VflProtocolException("role_mismatch", "Both parties claim the same role.");
        }

        peer?.Dispose();
        peer = PaillierPublicKey.Import(hello.Items[0]);
        peerFeatures = checked((int)VflMessage.ReadInt(hello.Items[3]));
        var peerEpoch = checked((int)VflMessage.ReadInt(hello.Items[2]));
        var agreed = Math.Min(epoch, peerEpoch);
        if (epoch == agreed + 1 && previous is { } p && p.Epoch == agreed)
        {
            Restore(p); // the peer was killed before it saved the epoch we finished: both replay it
        }
        else if (epoch != agreed)
        {
            throw new VflProtocolException("epoch_mismatch", $"This party is at epoch {epoch}, the peer at {peerEpoch}: too far apart to resume.");
        }
    }

    /// <summary>
    /// Trains until the agreed epochs are done or early stopping says stop. After each epoch the checkpoint goes to
    /// <paramref name="onCheckpoint"/>. <paramref name="stopAfterEpoch"/> ends the run early (a simulated kill).
    /// </summary>
    public async Task<VflTrainingReport> TrainAsync(IVflChannel channel, Action<VflCheckpoint>? onCheckpoint = null, int? stopAfterEpoch = null,
        IProgress<VflEpochProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (peer is null)
        {
            throw new InvalidOperationException("Connect first.");
        }

        var epochSeconds = new List<double>();
        while (!stopped && epoch < options.Epochs && (stopAfterEpoch is null || epoch < stopAfterEpoch))
        {
            var sw = Stopwatch.StartNew();
            var prev = (double[])weights.Clone();
            var before = Checkpoint() with { Previous = null }; // the state this epoch starts from: kept as the rollback point
            var order = options.EpochOrder(train, epoch);
            var batches = (order.Length + options.BatchSize - 1) / options.BatchSize;
            for (var b = 0; b < batches; b++)
            {
                var rows = order.AsSpan(b * options.BatchSize, Math.Min(options.BatchSize, order.Length - b * options.BatchSize)).ToArray();
                await BatchAsync(channel, b, rows, cancellationToken);
            }

            var change = VflMath.Change(weights, prev);
            bool stop;
            if (Role == VflRole.Host)
            {
                await SendAsync(channel, VflMessageType.EpochEnd, epoch, 0, [VflMessage.Double(change.Delta2), VflMessage.Double(change.Norm2)], cancellationToken);
                var decision = await ReceiveAsync(channel, VflMessageType.Decision, cancellationToken);
                stop = VflMessage.ReadInt(decision.Items[0]) == 1;
            }
            else
            {
                var end = await ReceiveAsync(channel, VflMessageType.EpochEnd, cancellationToken);
                var hostChange = (VflMessage.ReadDouble(end.Items[0]), VflMessage.ReadDouble(end.Items[1]));
                stop = VflMath.ShouldStop(change, hostChange, options);
                await SendAsync(channel, VflMessageType.Decision, epoch, 0, [VflMessage.Int(stop ? 1 : 0)], cancellationToken);
            }

            previous = before;
            epoch++;
            stopped = stop || epoch >= options.Epochs;
            epochSeconds.Add(sw.Elapsed.TotalSeconds);
            onCheckpoint?.Invoke(Checkpoint());
            progress?.Report(new VflEpochProgress(epoch, options.Epochs, sw.Elapsed, stopped));
        }

        return new VflTrainingReport(epoch, stopped, epochSeconds);
    }

    private async Task BatchAsync(IVflChannel channel, int batch, int[] rows, CancellationToken ct)
    {
        var key = own.Public;
        var peerKey = peer!;
        var u = VflMath.PartialScores(cols, weights, rows);
        var mine = Role == VflRole.Guest ? VflMath.GuestTerms(u, rows, data.Labels!) : VflMath.HostTerms(u);

        // 1. Enc_own(own term), randomness generated ahead on all cores.
        key.Prefill(rows.Length - key.Pooled);
        var cts = new byte[rows.Length][];
        Parallel.For(0, rows.Length, i =>
        {
            using var m = key.Encode(mine[i]);
            using var c = key.Encrypt(m);
            cts[i] = c.ToBytes(PaillierPublicKey.CiphertextBytes);
        });
        await SendAsync(channel, VflMessageType.ResidualTerms, epoch, batch, cts, ct);

        // 2. Enc_peer(d_i) = Enc_peer(peer term)·(1 + n·own term); then Σ_i x_ij·d_i per feature, packed and masked.
        var theirs = await ReceiveAsync(channel, VflMessageType.ResidualTerms, ct, batch, rows.Length);
        var bases = new Bn[rows.Length];
        try
        {
            Parallel.For(0, rows.Length, i =>
            {
                var c = peerKey.ReadCiphertext(theirs.Items[i]);
                using var m = peerKey.Encode(mine[i]);
                peerKey.AddPlainInPlace(c, m);
                peerKey.ToMontInPlace(c);
                bases[i] = c;
            });
            var sums = new Bn[xq.Length];
            Parallel.For(0, xq.Length, j =>
            {
                var x = new short[rows.Length];
                for (var i = 0; i < rows.Length; i++)
                {
                    x[i] = xq[j][rows[i]];
                }

                sums[j] = HeOps.SignedMultiExp(peerKey, bases, x);
            });

            var masks = new UInt128[xq.Length];
            var packed = new byte[Chunks(xq.Length)][];
            for (var k = 0; k < packed.Length; k++)
            {
                var part = sums.Skip(k * FixedPoint.SlotsPerCiphertext).Take(FixedPoint.SlotsPerCiphertext).ToArray();
                using var c = HeOps.Pack(peerKey, part, FixedPoint.SlotBits);
                var plain = BigInteger.Zero;
                for (var s = part.Length - 1; s >= 0; s--)
                {
                    var r = RandomMask();
                    masks[k * FixedPoint.SlotsPerCiphertext + s] = r;
                    plain = (plain << FixedPoint.SlotBits) + (BigInteger)(FixedPoint.Offset + r);
                }

                using var mp = Bn.From(plain);
                peerKey.AddPlainInPlace(c, mp);
                peerKey.RerandomizeInPlace(c);
                packed[k] = c.ToBytes(PaillierPublicKey.CiphertextBytes);
            }

            foreach (var s in sums)
            {
                s.Dispose();
            }

            await SendAsync(channel, VflMessageType.MaskedGradient, epoch, batch, packed, ct);

            // 3. Decrypt the peer's masked gradients under our key and hand back the masked sums.
            var theirGrad = await ReceiveAsync(channel, VflMessageType.MaskedGradient, ct, batch, Chunks(peerFeatures));
            var plains = new byte[theirGrad.Items.Count][];
            Parallel.For(0, plains.Length, k =>
            {
                using var c = key.ReadCiphertext(theirGrad.Items[k]);
                var m = own.DecryptRaw(c);
                plains[k] = m.ToByteArray(isUnsigned: true, isBigEndian: true);
            });
            await SendAsync(channel, VflMessageType.MaskedGradientPlain, epoch, batch, plains, ct);

            // 4. Our own masked sums, back from the peer: remove the masks, update.
            var back = await ReceiveAsync(channel, VflMessageType.MaskedGradientPlain, ct, batch, packed.Length);
            var g = new long[xq.Length];
            for (var k = 0; k < back.Items.Count; k++)
            {
                var count = Math.Min(FixedPoint.SlotsPerCiphertext, xq.Length - k * FixedPoint.SlotsPerCiphertext);
                var slots = HeOps.Unpack(new BigInteger(back.Items[k], isUnsigned: true, isBigEndian: true), count, FixedPoint.SlotBits);
                for (var s = 0; s < count; s++)
                {
                    var j = k * FixedPoint.SlotsPerCiphertext + s;
                    g[j] = (long)((Int128)(slots[s] - masks[j]) - (Int128)FixedPoint.Offset);
                }
            }

            VflMath.Update(weights, g, rows.Length, options, intercept: Role == VflRole.Guest);
        }
        finally
        {
            foreach (var b in bases)
            {
                b?.Dispose();
            }
        }
    }

    /// <summary>
    /// Held-out evaluation: the host sends its partial scores for the held-out rows; the guest computes AUC, KS and log
    /// loss and sends back only those three figures. Both return them.
    /// </summary>
    public async Task<BinaryMetrics> EvaluateAsync(IVflChannel channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (Role == VflRole.Host)
        {
            var u = VflMath.PartialScores(cols, weights, holdout);
            await SendAsync(channel, VflMessageType.PartialScores, epoch, 0, [VflMessage.Doubles(u)], cancellationToken);
            var m = await ReceiveAsync(channel, VflMessageType.Metrics, cancellationToken);
            return new BinaryMetrics(VflMessage.ReadDouble(m.Items[0]), VflMessage.ReadDouble(m.Items[1]), VflMessage.ReadDouble(m.Items[2]),
                (int)VflMessage.ReadInt(m.Items[3]), (int)VflMessage.ReadInt(m.Items[4]));
        }

        var p = await GuestProbabilitiesAsync(channel, holdout, cancellationToken);
        var metrics = BinaryMetrics.Compute(p, [.. holdout.Select(i => data.Labels![i])]);
        await SendAsync(channel, VflMessageType.Metrics, epoch, 0,
            [VflMessage.Double(metrics.Auc), VflMessage.Double(metrics.Ks), VflMessage.Double(metrics.LogLoss), VflMessage.Int(metrics.Rows), VflMessage.Int(metrics.Positives)],
            cancellationToken);
        return metrics;
    }

    /// <summary>Batch scoring of aligned rows: the guest gets the probabilities; the host gets nothing back (null).</summary>
    public async Task<double[]?> ScoreBatchAsync(IVflChannel channel, int[] rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(rows);
        if (Role == VflRole.Host)
        {
            await SendAsync(channel, VflMessageType.PartialScores, epoch, 1, [VflMessage.Doubles(VflMath.PartialScores(cols, weights, rows))], cancellationToken);
            return null;
        }

        return await GuestProbabilitiesAsync(channel, rows, cancellationToken);
    }

    /// <summary>Online scoring, host side: "how likely is this user to buy" — sends the id and the host's partial score.</summary>
    public async Task<double> AskAsync(IVflChannel channel, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (Role != VflRole.Host || !rowOf.TryGetValue(id, out var row))
        {
            throw new VflProtocolException("unknown_user", "Only the host asks, and only about a user it holds.");
        }

        var u = VflMath.PartialScores(cols, weights, [row])[0];
        await SendAsync(channel, VflMessageType.ScoreRequest, epoch, 0, [System.Text.Encoding.UTF8.GetBytes(id), VflMessage.Double(u)], cancellationToken);
        var reply = await ReceiveAsync(channel, VflMessageType.ScoreReply, cancellationToken);
        return VflMessage.ReadDouble(reply.Items[0]);
    }

    /// <summary>Online scoring, guest side: answers requests until the host says Bye. A user the guest does not hold gets NaN.</summary>
    public async Task<int> ServeAsync(IVflChannel channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var served = 0;
        while (true)
        {
            var m = VflMessage.Parse(await channel.ReceiveAsync(cancellationToken));
            if (m.Type == VflMessageType.Bye)
            {
                return served;
            }

            if (m.Type != VflMessageType.ScoreRequest || m.Items.Count != 2)
            {
                throw new VflProtocolException("unexpected_message", $"Expected a score request, got {m.Type}.");
            }

            var id = System.Text.Encoding.UTF8.GetString(m.Items[0]);
            var p = rowOf.TryGetValue(id, out var row)
                ? Sigmoid.Of(VflMath.PartialScores(cols, weights, [row])[0] + VflMessage.ReadDouble(m.Items[1]))
                : double.NaN;
            await SendAsync(channel, VflMessageType.ScoreReply, epoch, 0, [VflMessage.Double(p)], cancellationToken);
            served++;
        }
    }

    public static ValueTask ByeAsync(IVflChannel channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return channel.SendAsync(new VflMessage(VflMessageType.Bye, 0, 0, []).Serialize(), cancellationToken);
    }

    public int[] HoldoutRows => (int[])holdout.Clone();

    private async Task<double[]> GuestProbabilitiesAsync(IVflChannel channel, int[] rows, CancellationToken ct)
    {
        var m = await ReceiveAsync(channel, VflMessageType.PartialScores, ct);
        var uH = VflMessage.ReadDoubles(m.Items[0]);
        if (uH.Length != rows.Length)
        {
            throw new VflProtocolException("bad_message", "One partial score per row.");
        }

        var uG = VflMath.PartialScores(cols, weights, rows);
        return [.. uG.Select((u, i) => Sigmoid.Of(u + uH[i]))];
    }

    private void Restore(VflCheckpoint c)
    {
        if (c.Role != Role || c.JobDigest != Convert.ToHexString(digest) || c.Weights.Length != xq.Length)
        {
            throw new VflProtocolException("bad_checkpoint", "The checkpoint is from another job or role.");
        }

        weights = (double[])c.Weights.Clone();
        epoch = c.Epoch;
        stopped = c.Stopped;
        previous = c.Previous;
    }

    private static int Chunks(int features) => (features + FixedPoint.SlotsPerCiphertext - 1) / FixedPoint.SlotsPerCiphertext;

    private static UInt128 RandomMask()
    {
        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(b) >> (128 - FixedPoint.MaskBits);
    }

    private static ValueTask SendAsync(IVflChannel channel, VflMessageType type, int epoch, int batch, IReadOnlyList<byte[]> items, CancellationToken ct) =>
        channel.SendAsync(new VflMessage(type, epoch, batch, items).Serialize(), ct);

    private async Task<VflMessage> ReceiveAsync(IVflChannel channel, VflMessageType type, CancellationToken ct, int? batch = null, int? items = null)
    {
        var m = VflMessage.Parse(await channel.ReceiveAsync(ct));
        if (m.Type != type || (batch is { } b && (m.Batch != b || m.Epoch != epoch)) || (items is { } n && m.Items.Count != n))
        {
            throw new VflProtocolException("unexpected_message", $"Expected {type} (epoch {epoch}, batch {batch}), got {m.Type} (epoch {m.Epoch}, batch {m.Batch}, {m.Items.Count} items).");
        }

        return m;
    }

    public void Dispose()
    {
        own.Dispose();
        peer?.Dispose();
    }
}

public sealed record VflTrainingReport(int Epochs, bool Stopped, IReadOnlyList<double> EpochSeconds);

public sealed record VflEpochProgress(int Epoch, int Of, TimeSpan Took, bool Stopped);
