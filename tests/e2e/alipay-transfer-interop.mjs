// alipay-sdk (npm, Alipay's Node SDK) makes a transfer at the Hutong sandbox with alipay.fund.trans.uni.transfer and
// reads it back with alipay.fund.trans.common.query, the SDK verifying each answer's RSA2 signature itself; then a
// transfer to a payee the sandbox has no account for, which must come back as Alipay's PAYEE_NOT_EXIST.
// Input: environment (see PayoutTests); output: one JSON object on stdout.
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
const transfer = (outBizNo, identity) => sdk.exec('alipay.fund.trans.uni.transfer', {
  bizContent: {
    out_biz_no: outBizNo,
    trans_amount: '1.23',
    product_code: 'TRANS_ACCOUNT_NO_PWD',
    biz_scene: 'DIRECT_TRANSFER',
    order_title: 'interop',
    payee_info: { identity, identity_type: 'ALIPAY_USER_ID' },
  },
}, { validateSign: true });
const out = {};
try {
  const t = await transfer(env.ALI_OUT_BIZ_NO, '2088102146225135');
  out.transfer = { code: t.code, status: t.status, out_biz_no: t.out_biz_no, order_id: t.order_id ?? null };
  const q = await sdk.exec('alipay.fund.trans.common.query', {
    bizContent: { out_biz_no: env.ALI_OUT_BIZ_NO, product_code: 'TRANS_ACCOUNT_NO_PWD', biz_scene: 'DIRECT_TRANSFER' },
  }, { validateSign: true });
  out.query = { code: q.code, status: q.status, trans_amount: q.trans_amount, order_id: q.order_id ?? null };
  const refused = await transfer(env.ALI_OUT_BIZ_NO + 'x', '2088102146220404');
  out.refused = { code: refused.code, sub_code: refused.sub_code ?? null };
} catch (e) {
  out.error = `${e.name}: ${e.message}`;
}
console.log(JSON.stringify(out));
