"""The simulator judged by a WeChat Pay client this project did not write: the community
Python SDK `wechatpayv3` (PyPI) acts as the merchant. It signs its requests its own way and
verifies every answer and notify itself, so if the simulator's signatures, encryption or
formats were wrong, these tests would fail.

Run by scripts/test.sh with WECHAT_SIM pointing at the built `wechat-sim` binary.
"""

import datetime
import gzip
import hashlib
import http.server
import json
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

MCHID = "1900000001"
APPID = "wx0000000000000001"
APIV3 = "sdk-test-apiv3-key-0123456789abc"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7200000001"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Notifies(http.server.BaseHTTPRequestHandler):
    """Receives notifies and hands them to the test, which verifies them with the SDK."""

    inbox = queue.Queue()
    verdict = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items()}
        result = Notifies.verdict(headers, body)
        Notifies.inbox.put(result)
        self.send_response(204 if result else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def world():
    binary = os.environ.get("WECHAT_SIM")
    assert binary and os.path.exists(binary), "WECHAT_SIM must name the built wechat-sim binary"
    keys = tempfile.mkdtemp(prefix="sim-keys-")
    port = free_port()
    env = dict(os.environ, SIM_PORT=str(port), SIM_KEY_DIR=keys, WECHATPAY_MCHID=MCHID,
               WECHATPAY_APIV3_KEY=APIV3, WECHATPAY_MCH_SERIAL=SERIAL, WECHAT_APPID=APPID)
    proc = subprocess.Popen([binary], env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/sim/platform", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    notify_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", notify_port), Notifies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    w = {
        "base": base,
        "private_key": open(os.path.join(keys, "apiclient_key.pem")).read(),
        "public_key": open(os.path.join(keys, "wechatpay_public_key.pem")).read(),
        "notify_url": f"http://127.0.0.1:{notify_port}/pay/notify",
    }
    sim(w, "/sim/faults", {"time_scale": 0.001})
    yield w
    server.shutdown()
    proc.terminate()
    proc.wait(timeout=10)


def sim(w, path, body):
    req = urllib.request.Request(w["base"] + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read() or b"null")


def merchant(w, public_key_mode=True, private_key=None):
    """A merchant client aimed at the simulator instead of api.mch.weixin.qq.com."""
    import wechatpayv3.core as core

    original = core.Core._init_certificates

    def init_certificates(self):
        # In certificate mode the SDK downloads certificates from its constructor, before a
        # caller could change the gateway; aim it first.
        self._gate_way = w["base"]
        original(self)

    kwargs = dict(public_key=w["public_key"], public_key_id="PUB_KEY_ID_0114232099752025112500000000000001") \
        if public_key_mode else {}
    core.Core._init_certificates = init_certificates
    try:
        pay = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=MCHID,
                        private_key=private_key or w["private_key"], cert_serial_no=SERIAL, appid=APPID,
                        apiv3_key=APIV3, notify_url=w["notify_url"], timeout=(5, 10), **kwargs)
    finally:
        core.Core._init_certificates = original
    pay._core._gate_way = w["base"]
    return pay


def order_no():
    return "PY" + uuid.uuid4().hex[:20]


def next_notify():
    return Notifies.inbox.get(timeout=10)


def test_prepay_pay_notify_query(world):
    pay = merchant(world)
    Notifies.verdict = staticmethod(lambda h, b: pay.callback(h, b))
    no = order_no()
    code, message = pay.pay(description="Python SDK order", out_trade_no=no, amount={"total": 100},
                            payer={"openid": OPENID})
    assert code == 200, message
    assert json.loads(message)["prepay_id"].startswith("wx")
    sim(world, "/sim/pay", {"out_trade_no": no})
    result = next_notify()
    assert result, "the SDK verified and decrypted the payment notify"
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == no
    assert result["resource"]["amount"]["total"] == 100
    code, message = pay.query(out_trade_no=no)
    assert code == 200
    assert json.loads(message)["trade_state"] == "SUCCESS"


def test_close_and_refund(world):
    pay = merchant(world)
    Notifies.verdict = staticmethod(lambda h, b: pay.callback(h, b))
    no = order_no()
    assert pay.pay(description="to close", out_trade_no=no, amount={"total": 300}, payer={"openid": OPENID})[0] == 200
    code, _ = pay.close(out_trade_no=no)
    assert code == 204, "close answers 204 with a signed empty body, which the SDK verified"
    paid = order_no()
    pay.pay(description="to refund", out_trade_no=paid, amount={"total": 500}, payer={"openid": OPENID})
    sim(world, "/sim/pay", {"out_trade_no": paid})
    assert next_notify()
    code, message = pay.refund(out_refund_no="R" + paid, amount={"refund": 200, "total": 500, "currency": "CNY"},
                               out_trade_no=paid)
    assert code == 200, message
    assert json.loads(message)["status"] == "PROCESSING"
    result = next_notify()
    assert result and result["event_type"] == "REFUND.SUCCESS"
    assert result["resource"]["amount"]["refund"] == 200
    code, message = pay.query_refund(out_refund_no="R" + paid)
    assert code == 200 and json.loads(message)["status"] == "SUCCESS"


def test_trade_bill_gzip_and_hash(world):
    pay = merchant(world)
    Notifies.verdict = staticmethod(lambda h, b: pay.callback(h, b))
    no = order_no()
    pay.pay(description="yesterday", out_trade_no=no, amount={"total": 1234}, payer={"openid": OPENID})
    yesterday = int(time.time()) - 86400
    sim(world, "/sim/pay", {"out_trade_no": no, "success_time": yesterday})
    assert next_notify()
    day = (datetime.datetime.utcfromtimestamp(yesterday) + datetime.timedelta(hours=8)).strftime("%Y-%m-%d")
    code, message = pay.trade_bill(bill_date=day)
    assert code == 200, message
    info = json.loads(message)
    code, content = pay.download_bill(info["download_url"])
    assert code == 200
    assert hashlib.sha1(content).hexdigest() == info["hash_value"]
    text = gzip.decompress(content).decode("utf-8")
    assert text.startswith("交易时间,公众账号ID,商户号")
    assert f"`{no}," in text and "`12.34," in text


def test_certificate_mode(world):
    sim(world, "/sim/faults", {"time_scale": 0.001, "sign_with": "certificate"})
    try:
        pay = merchant(world, public_key_mode=False)
        assert pay._core._certificates, "the SDK downloaded and decrypted the platform certificate"
        no = order_no()
        code, message = pay.pay(description="cert mode", out_trade_no=no, amount={"total": 100}, payer={"openid": OPENID})
        assert code == 200, message
        Notifies.verdict = staticmethod(lambda h, b: pay.callback(h, b))
        sim(world, "/sim/pay", {"out_trade_no": no})
        result = next_notify()
        assert result and result["resource"]["out_trade_no"] == no
    finally:
        sim(world, "/sim/faults", {"time_scale": 0.001})


def test_wrong_merchant_key_is_refused(world):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    pay = merchant(world, private_key=other)
    code, message = pay.query(out_trade_no="PY0000000000")
    assert code == 401 and json.loads(message)["code"] == "SIGN_ERROR"


def test_tampered_notify_is_refused_by_the_sdk(world):
    pay = merchant(world)
    Notifies.verdict = staticmethod(lambda h, b: pay.callback(h, b))
    sim(world, "/sim/faults", {"time_scale": 0.001, "tamper": True})
    try:
        no = order_no()
        pay.pay(description="tampered", out_trade_no=no, amount={"total": 100}, payer={"openid": OPENID})
        sim(world, "/sim/pay", {"out_trade_no": no})
        assert next_notify() is None, "the SDK refuses a notify whose body changed after signing"
    finally:
        sim(world, "/sim/faults", {"time_scale": 0.001})
        while not Notifies.inbox.empty():
            Notifies.inbox.get()
