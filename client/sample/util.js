// What every page shares: the shop, a price in yuan, and running an action so a failure
// shows its stable code instead of an unhandled rejection.
function shop() {
  return getApp().shop;
}

function yuan(fen) {
  return (fen / 100).toFixed(2);
}

/** Runs `work` for page `self`, shows its error (code and message), and keeps the promise
 * on the page as `pending` (tests and double taps wait on it). */
function run(self, work) {
  self.pending = (async () => {
    try {
      self.setData({ error: '' });
      await work();
    } catch (e) {
      self.setData({ error: `${e.code || 'ERROR'}: ${e.message}` });
      wx.showToast({ title: e.message || '出错了', icon: 'none' });
    }
  })();
  return self.pending;
}

/** An id for one attempt of a write, so a retry of the same attempt is the same write. */
function requestId(prefix) {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`.slice(0, 32);
}

module.exports = { shop, yuan, run, requestId };
