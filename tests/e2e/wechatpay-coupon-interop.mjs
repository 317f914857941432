// wechatpay-axios-plugin (npm) reads a coupon-bearing order and refund from the Hutong sandbox and verifies a coupon-bearing
// TRANSACTION.SUCCESS notification: every answer's signature is checked by the plugin itself, so the sandbox's discount fields
// (amount.payer_total, promotion_detail, payer_refund, settlement_refund, discount_refund) are accepted by someone else's client.
// Input: environment (see WalletDiscountTests); output: one JSON object on stdout.
import { readFileSync } from 'node:fs';
import { Wechatpay, Formatter, Rsa, Aes } from 'wechatpay-axios-plugin';

const env = process.env;
const wxpay = new Wechatpay({
  mchid: env.WX_MCHID,
  serial: env.WX_SERIAL,
  privateKey: env.WX_PRIVATE_KEY,
  certs: { [env.WX_PUB_KEY_ID]: env.WX_PUB_KEY },
  baseURL: env.WX_BASE_URL,
});

const out = {};
try {
  const q = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: env.WX_MCHID }, out_trade_no: env.WX_OUT_TRADE_NO });
  out.total = q.data.amount.total;
  out.payer_total = q.data.amount.payer_total;
  out.promotion_types = (q.data.promotion_detail ?? []).map(p => p.type).sort().join(',');
  out.promotion_sum = (q.data.promotion_detail ?? []).reduce((s, p) => s + p.amount, 0);

  const r = await wxpay.v3.refund.domestic.refunds._out_refund_no_.get({ out_refund_no: env.WX_OUT_REFUND_NO });
  out.refund = r.data.amount.refund;
  out.payer_refund = r.data.amount.payer_refund;
  out.settlement_refund = r.data.amount.settlement_refund;
  out.settlement_total = r.data.amount.settlement_total;
  out.discount_refund = r.data.amount.discount_refund;
  out.refund_promotion_types = (r.data.promotion_detail ?? []).map(p => p.type).sort().join(',');

  const n = JSON.parse(readFileSync(env.WX_NOTIFICATION_FILE, 'utf8'));
  out.notification_signature_ok = Rsa.verify(Formatter.response(n.timestamp, n.nonce, n.body), n.signature, env.WX_PUB_KEY);
  const resource = JSON.parse(n.body).resource;
  const plain = JSON.parse(Aes.AesGcm.decrypt(resource.ciphertext, env.WX_APIV3_KEY, resource.nonce, resource.associated_data));
  out.notification_payer_total = plain.amount.payer_total;
  out.notification_promotions = (plain.promotion_detail ?? []).length;
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
