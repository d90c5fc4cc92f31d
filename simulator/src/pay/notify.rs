//! Notifies: signed, encrypted, sent on WeChat's retry schedule until the shop answers 2xx;
//! held, reordered, duplicated, tampered or lost when a fault says so.

use super::*;

pub(super) fn enqueue(sim: &Sim, n: PendingNotify) {
    let mut st = sim.pay.state();
    if st.faults.lose {
        st.deliveries.push(Delivery {
            event_type: n.event_type,
            key: n.key,
            attempt: 0,
            status: None,
            signed_by: "lost".into(),
        });
        return;
    }
    if st.faults.hold {
        st.held.push(n);
        return;
    }
    let copies = 1 + st.faults.duplicate;
    drop(st);
    for _ in 0..copies {
        spawn_delivery(sim.clone(), n.clone());
    }
}

/// Sends held notifies, in reverse order when asked (late and out of order).
pub fn release(sim: &Sim, reverse: bool) -> usize {
    let mut held = std::mem::take(&mut sim.pay.state().held);
    if reverse {
        held.reverse();
    }
    let n = held.len();
    let sim2 = sim.clone();
    tokio::spawn(async move {
        for p in held {
            // One at a time, so the order of arrival is the order chosen.
            deliver(&sim2, &p).await;
        }
    });
    n
}

pub(super) fn spawn_delivery(sim: Sim, n: PendingNotify) {
    tokio::spawn(async move { deliver(&sim, &n).await });
}

/// Delivers one notify until the shop answers 200/204 or WeChat's schedule runs out.
pub(super) async fn deliver(sim: &Sim, n: &PendingNotify) {
    let (delay, scale) = {
        let st = sim.pay.state();
        (st.faults.delay_ms, st.faults.time_scale)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let Some(m) = sim.pay.merchant.clone() else { return };
    let id = uuid::Uuid::new_v4().to_string();
    for attempt in 0..=RETRY_SCHEDULE.len() {
        if attempt > 0 {
            let secs = RETRY_SCHEDULE[attempt - 1] as f64 * scale;
            tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
        }
        let (tamper, probe, stale) = {
            let st = sim.pay.state();
            (st.faults.tamper, st.faults.probe && attempt == 0, st.faults.stale)
        };
        let n12: String = nonce().chars().take(12).collect();
        let ct = ApiV3Key::new(&m.apiv3_key)
            .and_then(|k| k.encrypt(&n12, n.original_type, n.plaintext.as_bytes()))
            .unwrap_or_default();
        let body = json!({
            "id": id, "create_time": rfc3339(clock::now()), "resource_type": "encrypt-resource",
            "event_type": n.event_type,
            "summary": if n.event_type == "TRANSACTION.SUCCESS" { "支付成功" } else { "退款状态变更" },
            "resource": { "original_type": n.original_type, "algorithm": "AEAD_AES_256_GCM", "ciphertext": ct,
                          "associated_data": n.original_type, "nonce": n12 },
        })
        .to_string();
        let use_cert = use_cert_for(&sim.pay, None);
        let ts = if stale { clock::now() - 600 } else { clock::now() };
        let mut headers = sign_headers(&sim.pay, body.as_bytes(), use_cert, ts);
        if probe {
            for h in headers.iter_mut().filter(|h| h.0 == "Wechatpay-Signature") {
                h.1 = format!("WECHATPAY/SIGNTEST/{}", h.1);
            }
        }
        let mut bytes = body.into_bytes();
        if tamper {
            // Change one character inside the ciphertext: still JSON, no longer signed bytes.
            if let Some(i) = bytes.windows(14).position(|w| w == b"\"ciphertext\":\"") {
                let j = i + 15;
                bytes[j] = if bytes[j] == b'A' { b'B' } else { b'A' };
            }
        }
        let mut req = sim.pay.http.post(&n.url).header("Content-Type", "application/json").body(bytes);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let status = req.send().await.ok().map(|r| r.status().as_u16());
        sim.pay.state().deliveries.push(Delivery {
            event_type: n.event_type.clone(),
            key: n.key.clone(),
            attempt: attempt as u32,
            status,
            signed_by: if probe {
                "probe".into()
            } else if use_cert {
                "certificate".into()
            } else {
                "public_key".into()
            },
        });
        if matches!(status, Some(200) | Some(204)) {
            return;
        }
    }
}
