namespace Hutong.Sandbox;

/// <summary>How the sandbox wallets charge their fee and return it on refunds (pro rata on the running refunded total).</summary>
internal static class SandboxFees
{
    public static long Fee(long amount, int basisPoints) => ((amount * basisPoints) + 5_000) / 10_000;

    public static long Returned(long fee, long captured, long refundedBefore, long refund) =>
        ProRata(fee, refundedBefore + refund, captured) - ProRata(fee, refundedBefore, captured);

    private static long ProRata(long fee, long part, long whole) => whole == 0 ? 0 : ((fee * part * 2) + whole) / (2 * whole);
}
