// An independent WeChat Pay API v3 client (wechatpay-axios-plugin, npm) calling the Hutong sandbox's merchant transfer
// API (商家转账, /v3/fund-app/mch-transfer/transfer-bills): create (user_name RSA-OAEP encrypted by the plugin's own Rsa
// helper, Wechatpay-Serial naming the platform key), query by out_bill_no, and a missing bill. The plugin verifies every
// 2xx answer's Wechatpay-Signature itself (certs), so a sandbox answer it accepted was signed as WeChat signs.
// Input: environment (see WeChatPayoutTests); output: one JSON object on stdout.
import { Wechatpay, Rsa } from 'wechatpay-axios-plugin';

const env = process.env;
const wxpay = new Wechatpay({
  mchid: env.WX_MCHID,
  serial: env.WX_SERIAL,
  privateKey: env.WX_PRIVATE_KEY,
  certs: { [env.WX_PUB_KEY_ID]: env.WX_PUB_KEY },
  baseURL: env.WX_BASE_URL,
});

const out = {};
const outBillNo = 'interop' + Date.now();
try {
  const created = await wxpay.v3.fundApp.mchTransfer.transferBills.post({
    appid: env.WX_APPID,
    out_bill_no: outBillNo,
    transfer_scene_id: '1005',
    openid: env.WX_OPENID,
    user_name: Rsa.encrypt('张三', env.WX_PUB_KEY),
    transfer_amount: 250000,
    transfer_remark: '2026年12月佣金',
    user_recv_perception: '劳务报酬',
    transfer_scene_report_infos: [
      { info_type: '岗位类型', info_content: '合作伙伴' },
      { info_type: '报酬说明', info_content: '佣金结算' },
    ],
  }, { headers: { 'Wechatpay-Serial': env.WX_PUB_KEY_ID } });
  out.out_bill_no = created.data.out_bill_no;
  out.state = created.data.state;
  out.package_info = created.data.package_info;
  out.transfer_bill_no = created.data.transfer_bill_no;

  const queried = await wxpay.v3.fundApp.mchTransfer.transferBills.outBillNo._out_bill_no_.get({ out_bill_no: outBillNo });
  out.query_state = queried.data.state;
  out.query_amount = queried.data.transfer_amount;
  out.query_mch_id = queried.data.mch_id;

  try {
    await wxpay.v3.fundApp.mchTransfer.transferBills.outBillNo._out_bill_no_.get({ out_bill_no: 'nosuchbill1' });
  } catch (e) {
    out.missing_status = e.response?.status;
    out.missing_code = e.response?.data?.code;
  }
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
