const { shop, yuan, run, requestId } = require('../../util');

const STATE = { requested: '已提交，等待商家处理', processing: '退款中', success: '已退款', refused: '商家已拒绝', closed: '已关闭' };

Component({
  data: { no: '', payable: '', reason: '', refund: null, error: '' },
  methods: {
    onLoad(query) {
      this.requestId = requestId('rf');
      return run(this, async () => {
        const { order, refunds } = await shop().order(query.no);
        this.setData({ no: order.order_no, payable: yuan(order.payable) });
        if (refunds.length) this.show(refunds[refunds.length - 1]);
      });
    },
    onReason(e) {
      this.setData({ reason: e.detail.value });
    },
    show(r) {
      this.setData({ refund: { state: r.state, label: STATE[r.state] || r.state, amount: yuan(r.amount), note: r.arrival_note || '' } });
    },
    submit() {
      return run(this, async () => {
        const r = await shop().requestRefund(this.data.no, { request_id: this.requestId, full: true, reason: this.data.reason || undefined });
        this.show(r);
      });
    },
  },
});
