const { shop, run } = require('../../util');
const config = require('../../config');

Component({
  data: { member: null, subscribed: [], error: '' },
  methods: {
    onShow() {
      return this.load();
    },
    onLoad() {
      return this.load();
    },
    load() {
      return run(this, async () => {
        const m = await shop().member();
        this.setData({
          member: {
            level: m.level.name,
            growth: m.growth,
            next: m.next_level ? `再成长 ${m.next_level[1]} 升级${m.next_level[0]}` : '已是最高等级',
            points: m.points_available,
            frozen: m.points_frozen,
          },
        });
      });
    },
    subscribe() {
      return run(this, async () => {
        const accepted = await shop().subscribe(config.subscribeTemplates);
        this.setData({ subscribed: accepted });
      });
    },
    coupons() {
      wx.navigateTo({ url: '/pages/coupons/index' });
    },
  },
});
