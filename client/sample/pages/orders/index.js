const { shop, yuan, run } = require('../../util');

const STATE = { unpaid: '待支付', paid: '已支付', closed: '已关闭' };

Component({
  data: { orders: [], error: '' },
  methods: {
    onShow() {
      return this.load();
    },
    onLoad() {
      return this.load();
    },
    load() {
      return run(this, async () => {
        const list = await shop().orders();
        const orders = list.items.map((o) => ({
          no: o.order_no,
          state: o.state,
          label: STATE[o.state] || o.state,
          payable: yuan(o.payable),
          refundable: o.state === 'paid' && o.refunded < o.payable,
          title: o.lines.map((l) => l.name).join('、'),
        }));
        this.setData({ orders });
      });
    },
    pay(e) {
      const no = e.currentTarget.dataset.no;
      return run(this, async () => {
        await shop().pay(no);
        wx.navigateTo({ url: `/pages/pay-result/index?no=${no}` });
      });
    },
    refund(e) {
      wx.navigateTo({ url: `/pages/refund/index?no=${e.currentTarget.dataset.no}` });
    },
  },
});
