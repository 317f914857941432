// An independent WeChat Pay API v3 client (wechatpay-axios-plugin, npm) calling the Hutong sandbox's consumer complaint
// API (消费者投诉2.0): list complaints (GET /v3/merchant-service/complaints-v2 with limit, offset, begin_date, end_date),
// one complaint's detail (GET …/complaints-v2/{complaint_id}) and a refused list (limit out of range). The plugin
// verifies every 2xx answer's Wechatpay-Signature itself (certs), so a sandbox answer it accepted was signed as WeChat
// signs. Input: environment (see DisputeTests); output: one JSON object on stdout.
import { Wechatpay } from 'wechatpay-axios-plugin';

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
  const complaints = wxpay.v3.merchantService['complaints-v2'];
  const listed = await complaints.get({ params: { limit: 50, offset: 0, begin_date: env.WX_BEGIN_DATE, end_date: env.WX_END_DATE } });
  out.total_count = listed.data.total_count;
  out.ids = (listed.data.data ?? []).map((c) => c.complaint_id);
  const mine = (listed.data.data ?? []).find((c) => c.complaint_id === env.WX_COMPLAINT_ID);
  out.listed_state = mine?.complaint_state;
  out.listed_out_trade_no = mine?.complaint_order_info?.[0]?.out_trade_no;

  const detail = await complaints['{complaint_id}'].get({ complaint_id: env.WX_COMPLAINT_ID });
  out.detail_id = detail.data.complaint_id;
  out.detail_state = detail.data.complaint_state;

  try {
    await complaints.get({ params: { limit: 51, offset: 0, begin_date: env.WX_BEGIN_DATE, end_date: env.WX_END_DATE } });
  } catch (e) {
    out.bad_status = e.response?.status;
    out.bad_code = e.response?.data?.code;
  }
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
