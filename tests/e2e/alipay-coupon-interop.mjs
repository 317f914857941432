// alipay-sdk (npm, Alipay's Node SDK) reads a voucher-paid order from the Hutong sandbox with alipay.trade.query
// (query_options voucher_detail_list; the SDK verifies the answer's signature itself) and verifies the sandbox's
// voucher-bearing trade_status_sync notification with checkNotifySign, so the sandbox's discount fields (receipt_amount,
// buyer_pay_amount, voucher_detail_list, fund_bill_list) are accepted by Alipay's own client.
// Input: environment (see WalletDiscountTests); output: one JSON object on stdout.
import { readFileSync } from 'node:fs';
import { AlipaySdk } from 'alipay-sdk';

const env = process.env;
const sdk = new AlipaySdk({
  appId: env.ALI_APPID,
  privateKey: env.ALI_PRIVATE_KEY.trim(),
  keyType: 'PKCS8',
  alipayPublicKey: env.ALI_PUBLIC_KEY.trim(),
  gateway: env.ALI_SANDBOX + '/gateway.do',
  camelcase: false,
});
const out = {};
try {
  const q = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: env.ALI_OUT_TRADE_NO, query_options: ['voucher_detail_list'] } }, { validateSign: true });
  out.total_amount = q.total_amount;
  out.receipt_amount = q.receipt_amount;
  out.buyer_pay_amount = q.buyer_pay_amount;
  out.vouchers = (q.voucher_detail_list ?? []).map(v => `${v.amount}=${v.merchant_contribute}+${v.other_contribute}`).join(',');

  const form = JSON.parse(readFileSync(env.ALI_NOTIFICATION_FILE, 'utf8'));
  out.notification_sign_ok = sdk.checkNotifySign(form);
  out.notification_vouchers = JSON.parse(form.voucher_detail_list).length;
  form.receipt_amount = '50.00'; // tampered: the SDK must refuse it
  out.tampered_sign_ok = sdk.checkNotifySign(form);
} catch (e) {
  out.error = `${e.name}: ${e.message}`;
}
console.log(JSON.stringify(out));
