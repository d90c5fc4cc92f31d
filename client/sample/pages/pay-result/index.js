const { shop, yuan, run } = require('../../util');

const STATE = { paid: '支付成功', unpaid: '支付确认中', closed: '订单已关闭' };

Component({
  data: { no: '', state: '', label: '', payable: '', error: '' },
  methods: {
    onLoad(query) {
      return run(this, async () => {
        const { order } = await shop().order(query.no);
        this.setData({ no: order.order_no, state: order.state, label: STATE[order.state] || order.state, payable: yuan(order.payable) });
      });
    },
    toOrders() {
      wx.switchTab({ url: '/pages/orders/index' });
    },
  },
});
