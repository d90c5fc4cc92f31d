const { shop, yuan, run } = require('../../util');

const STATE = { available: '可使用', locked: '下单中', used: '已使用' };

function describe(rule) {
  switch (rule.kind) {
    case 'threshold':
      return `满${yuan(rule.min_spend)}减${yuan(rule.amount_off)}`;
    case 'percent':
      return `${100 - rule.percent_off}折`;
    default:
      return rule.amount_off ? `减${yuan(rule.amount_off)}` : '';
  }
}

Component({
  data: { coupons: [], claimed: '', error: '' },
  methods: {
    // A coupon link (`?claim=<template id>`, e.g. from a campaign's QR code) claims it first.
    onLoad(query) {
      return run(this, async () => {
        if (query && query.claim) {
          const c = await shop().claimCoupon(query.claim);
          this.setData({ claimed: c.name });
        }
        await this.load();
      });
    },
    async load() {
      const mine = await shop().myCoupons();
      this.setData({
        coupons: mine.items.map((c) => ({ id: c.coupon_id, name: c.name, rule: describe(c.rule), state: STATE[c.state] || c.state })),
      });
    },
  },
});
