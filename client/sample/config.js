// Where the shop runs. `wx.request` needs the domain in the mini-program's request
// allow-list (mp.weixin.qq.com → 开发管理 → 服务器域名); on WeChat Cloud Hosting use
// `cloud: { env: '<环境 ID>', service: '<服务名>' }` instead of baseUrl.
module.exports = {
  baseUrl: 'http://127.0.0.1:9000',
  // Subscribe-message templates the "me" page asks for (the shop's SUBSCRIBE_TEMPLATE_*).
  subscribeTemplates: [],
};
