"""The community Python SDK (wechatpayv3) on the notify the Rust bench opens: an RSA-2048 signed,
AES-256-GCM encrypted TRANSACTION.SUCCESS, checked and decrypted by `WeChatPay.callback` in
public-key mode. Prints notifies per second (best of five rounds), one core as the caller pins."""
import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay, WeChatPayType

APIV3 = "0123456789abcdef0123456789abcdef"
KEY_ID = "PUB_KEY_ID_01"


def main(rounds=5, n=2000):
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public = platform.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    tx = {"transaction_id": "4200002360202407091150650780",
          "amount": {"payer_total": 3990, "total": 3990, "currency": "CNY", "payer_currency": "CNY"},
          "mchid": "1900000001", "trade_state": "SUCCESS", "bank_type": "OTHERS",
          "success_time": "2026-11-25T10:34:56+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
          "out_trade_no": "O2026112500000001", "appid": "wx0000000000000001", "trade_state_desc": "支付成功",
          "trade_type": "JSAPI", "attach": ""}
    nonce = "0123456789ab"
    ciphertext = AESGCM(APIV3.encode()).encrypt(nonce.encode(), json.dumps(tx).encode(), b"transaction")
    body = json.dumps({"id": "EV-2018022511223320873", "create_time": "2026-11-25T10:34:56+08:00",
                       "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                       "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                    "ciphertext": base64.b64encode(ciphertext).decode(),
                                    "associated_data": "transaction", "nonce": nonce}})
    ts = str(int(time.time()))
    message = f"{ts}\nNONCE\n{body}\n".encode()
    signature = base64.b64encode(platform.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": "NONCE", "Wechatpay-Signature": signature,
               "Wechatpay-Serial": KEY_ID, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}
    pay = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid="1900000001", private_key=pem(merchant),
                    cert_serial_no="MERCHANT_SERIAL", appid="wx0000000000000001", apiv3_key=APIV3,
                    notify_url="https://example.com/notify", public_key=public, public_key_id=KEY_ID)
    result = pay.callback(headers, body)
    if not result or result["resource"]["out_trade_no"] != tx["out_trade_no"]:
        sys.exit("the SDK refused the notify")
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            pay.callback(headers, body)
        best = max(best, n / (time.perf_counter() - start))
    print(f"{best:.0f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
