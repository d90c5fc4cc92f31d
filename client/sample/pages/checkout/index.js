const { shop, yuan, run, requestId } = require('../../util');

// wx.chooseAddress's answer in the shop's address shape.
function fromWx(a) {
  return {
    name: a.userName,
    phone: a.telNumber,
    province: a.provinceName,
    city: a.cityName,
    district: a.countyName,
    detail: a.detailInfo,
  };
}

Component({
  data: { lines: [], total: '0.00', address: null, addressId: '', error: '', placing: false },
  methods: {
    onLoad() {
      // One id for this checkout: tapping "pay" again after a failure retries the same order.
      this.requestId = requestId('mp');
      return run(this, async () => {
        const [cart, book] = await Promise.all([shop().cart(), shop().addresses()]);
        const chosen = book.addresses.find((a) => a.is_default) || book.addresses[0];
        this.setData({
          lines: cart.lines.map((l) => ({ ...l, price: yuan(l.unit_price) })),
          total: yuan(cart.total),
          address: chosen ? chosen.address : null,
          addressId: chosen ? chosen.id : '',
        });
      });
    },
    chooseAddress() {
      return run(this, async () => {
        const picked = await new Promise((resolve, reject) => wx.chooseAddress({ success: resolve, fail: reject }));
        const book = await shop().addAddress(fromWx(picked));
        const added = book.addresses[book.addresses.length - 1];
        this.setData({ address: added.address, addressId: added.id });
      });
    },
    submit() {
      if (this.data.placing) return this.pending;
      this.setData({ placing: true });
      return run(this, async () => {
        try {
          const order = await shop().placeOrder({
            request_id: this.requestId,
            items: this.data.lines.map((l) => ({ sku_id: l.sku_id, quantity: l.quantity })),
            address_id: this.data.addressId || undefined,
          });
          await Promise.all(this.data.lines.map((l) => shop().removeCartLine(l.sku_id)));
          try {
            await shop().pay(order.order_no);
          } catch (e) {
            // Not paid now: the order waits unpaid (until it expires) and can be paid from the list.
            if (e.code !== 'PAY_CANCELLED') throw e;
          }
          wx.redirectTo({ url: `/pages/pay-result/index?no=${order.order_no}` });
        } finally {
          this.setData({ placing: false });
        }
      });
    },
  },
});
