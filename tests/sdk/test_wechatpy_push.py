"""The simulator's message push judged by a WeChat client this project did not write: the
community Python SDK `wechatpy` (PyPI) checks the URL check's signature, the pushes'
signatures and, in safe mode, opens their ciphertext with its own AES code. If the
simulator's signing, padding or plaintext layout were wrong, these tests would fail.

Run by scripts/test.sh with WECHAT_SIM pointing at the built `wechat-sim` binary.
"""

import http.server
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest
from wechatpy.crypto import PrpCrypto, _get_signature
from wechatpy.utils import check_signature

from test_wechatpayv3 import free_port

APPID = "wx0000000000000001"
TOKEN = "sdkPushToken1"
# A console-made EncodingAESKey: its last character's spare bits are not zero.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class Receiver(http.server.BaseHTTPRequestHandler):
    """The merchant's push URL, checking everything with wechatpy."""

    inbox = queue.Queue()
    safe = False

    def query(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).items()}

    def do_GET(self):
        q = self.query()
        check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
        body = q["echostr"].encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        q = self.query()
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
            body = json.loads(raw)
            if Receiver.safe:
                assert q.get("encrypt_type") == "aes"
                assert q["msg_signature"] == _get_signature(TOKEN, q["timestamp"], q["nonce"], body["Encrypt"])
                key = __import__("base64").b64decode(AES_KEY + "=")
                body = json.loads(PrpCrypto(key).decrypt(body["Encrypt"], APPID))
            Receiver.inbox.put(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")
        except Exception as e:  # a push wechatpy refuses: answered 401, seen by the test
            Receiver.inbox.put({"refused": repr(e)})
            self.send_response(401)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def sim():
    binary = os.environ.get("WECHAT_SIM")
    assert binary and os.path.exists(binary), "WECHAT_SIM must name the built wechat-sim binary"
    port = free_port()
    env = dict(os.environ, SIM_PORT=str(port), SIM_KEY_DIR=tempfile.mkdtemp(prefix="sim-keys-"), WECHAT_APPID=APPID)
    proc = subprocess.Popen([binary], env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/sim/platform", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    rport = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", rport), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"base": base, "url": f"http://127.0.0.1:{rport}/wechat/push"}
    server.shutdown()
    proc.terminate()
    proc.wait(timeout=10)


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


EVENT = {"MsgType": "event", "Event": "wxa_media_check", "trace_id": "t-1", "errcode": 0,
         "result": {"suggest": "pass", "label": 100}}


@pytest.mark.parametrize("safe", [False, True])
def test_pushes_verify_and_open_with_wechatpy(sim, safe):
    Receiver.safe = safe
    config = {"url": sim["url"], "token": TOKEN, "aes_key": AES_KEY if safe else None}
    assert post(sim["base"], "/sim/push-config", config) == {"ok": True}, "wechatpy answered the URL check"
    sent = post(sim["base"], "/sim/push", {"event": EVENT})
    got = Receiver.inbox.get(timeout=5)
    assert got == EVENT, got
    assert sent["answers"][0] == {"status": 200, "body": "success"}


def test_a_forged_push_is_what_wechatpy_refuses(sim):
    Receiver.safe = False
    post(sim["base"], "/sim/push-config", {"url": sim["url"], "token": TOKEN})
    sent = post(sim["base"], "/sim/push", {"event": EVENT, "tamper": {"wrong_token": True}})
    assert "refused" in Receiver.inbox.get(timeout=5)
    assert sent["answers"][0]["status"] == 401
