// A `wx` for Node that talks to real servers: `request` goes over HTTP to the shop,
// `login` hands out codes the WeChat simulator accepts, `requestPayment` goes to the
// simulator's WeChat-client endpoint (which checks paySign with the merchant's key and pays),
// storage is in memory. Every 2xx answer of the shop is checked against docs/openapi.json's
// schema for its operation, so the server cannot drift from the document the client's
// types are generated from.
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');

const doc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../docs/openapi.json'), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(doc, 'openapi');

/** The documented operation of `method path` and the schema of its `status` answer. */
function schemaOf(method, url) {
  const p = new URL(url).pathname;
  for (const [template, ops] of Object.entries(doc.paths)) {
    const re = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    const op = ops[method.toLowerCase()];
    if (re.test(p) && op) return { template, op };
  }
  return null;
}

/** An answer schema written in place, compiled once with the document's components beside it
 * so its `$ref`s resolve. */
const compiled = new Map();
function inline(template, method, status, schema) {
  const id = `${method} ${template} ${status}`;
  if (!compiled.has(id)) compiled.set(id, ajv.compile({ ...schema, components: doc.components }));
  return compiled.get(id);
}

function make({ simBase, appid, user }) {
  const storage = new Map();
  const calls = { login: 0, validated: 0, requests: [], navigations: [], toasts: [] };
  let codes = 0;
  const ok = (cb, v) => setImmediate(() => cb && cb(v));
  const wx = {
    calls,
    login({ success, fail }) {
      calls.login += 1;
      codes += 1;
      ok(success, { code: `${user}.${codes}`, errMsg: 'login:ok' });
      void fail;
    },
    request({ url, method = 'GET', data, header = {}, success, fail }) {
      const body = data === undefined || method === 'GET' ? undefined : JSON.stringify(data);
      calls.requests.push(`${method} ${new URL(url).pathname}`);
      fetch(url, { method, headers: header, body })
        .then(async (r) => {
          const text = await r.text();
          const json = text ? JSON.parse(text) : null;
          const found = schemaOf(method, url);
          if (!found) throw new Error(`${method} ${url} is not in docs/openapi.json`);
          const documented = found.op.responses[String(r.status)];
          if (!documented) throw new Error(`${method} ${found.template} answered ${r.status}, which the document does not list`);
          const schema = documented.content && documented.content['application/json'] && documented.content['application/json'].schema;
          if (r.status < 300 && schema) {
            const ref = schema.$ref ? 'openapi' + schema.$ref : null;
            const validate = ref ? ajv.getSchema(ref) : inline(found.template, method, r.status, schema);
            if (!validate(json)) {
              throw new Error(`${method} ${found.template} ${r.status} does not match docs/openapi.json: ${ajv.errorsText(validate.errors)}\n${text}`);
            }
            calls.validated += 1;
          }
          success && success({ statusCode: r.status, data: json, header: Object.fromEntries(r.headers), errMsg: 'request:ok' });
        })
        .catch((e) => {
          if (/docs\/openapi\.json|document/.test(e.message)) {
            calls.drift = calls.drift || [];
            calls.drift.push(e.message);
          }
          fail && fail({ errMsg: `request:fail ${e.message}` });
        });
    },
    requestPayment(params) {
      const { success, fail, complete, ...rest } = params;
      // WeChat knows which mini-program asks; the shop's parameters do not say.
      fetch(`${simBase}/sim/request-payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appId: appid, ...rest }),
      })
        .then(async (r) => {
          const answer = await r.json();
          if (r.ok) success && success(answer);
          else fail && fail(answer);
          complete && complete(answer);
        })
        .catch((e) => fail && fail({ errMsg: `requestPayment:fail ${e.message}` }));
    },
    requestSubscribeMessage({ tmplIds, success }) {
      const r = { errMsg: 'requestSubscribeMessage:ok' };
      // The shopper accepts the first template and turns down the rest.
      tmplIds.forEach((id, i) => (r[id] = i === 0 ? 'accept' : 'reject'));
      ok(success, r);
    },
    chooseAddress({ success }) {
      ok(success, {
        userName: '李四',
        telNumber: '13900139000',
        provinceName: '广东省',
        cityName: '广州市',
        countyName: '天河区',
        detailInfo: '体育西路1号',
        postalCode: '510000',
        errMsg: 'chooseAddress:ok',
      });
    },
    getStorageSync: (k) => (storage.has(k) ? storage.get(k) : ''),
    setStorageSync: (k, v) => storage.set(k, v),
    removeStorageSync: (k) => storage.delete(k),
    showToast: (o) => calls.toasts.push(o.title),
    navigateTo: (o) => calls.navigations.push(o.url),
    redirectTo: (o) => calls.navigations.push(o.url),
    switchTab: (o) => calls.navigations.push(o.url),
  };
  return wx;
}

module.exports = { make };
