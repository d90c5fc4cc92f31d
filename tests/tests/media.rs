//! Product images, specs and WeChat's content security over HTTP on both stores: uploads go
//! to an S3-compatible server (moto) on URLs the shop signs, WeChat's media check (the
//! simulator fetches each image) answers on the message push, and only what it passed is
//! shown or published. The push URL is checked the way an attacker would try it: forged,
//! stale, replayed, and in safe mode tampered or for another mini-program.

use std::time::Duration;

use e2e::shop::{media_settled as settled, upload_image as upload};
use e2e::{Answer, Backend, PUSH_TOKEN, Shop, on_both_stores};
use serde_json::{Value, json};

fn must(a: Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    a.body
}

async fn shop_with_robot(b: Backend, aes_key: Option<&'static str>) -> Shop {
    let shop = Shop::start_tuned(b, |s| {
        s.operator_webhook = Some(format!("{}/cgi-bin/webhook/send?key=ops-room", s.wechat.api_base));
        if let (Some(k), Some(p)) = (aes_key, s.push.as_mut()) {
            p.aes_key = wechat::push::decode_aes_key(k);
        }
    })
    .await;
    shop.media_ready().await;
    if aes_key.is_some() {
        shop.push_config(aes_key).await;
    }
    shop
}

async fn robot_messages(shop: &Shop, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let m = shop.sim.sim.robot_messages();
        if m.len() >= n {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the operators' robot got {:?}, not {n} messages", shop.sim.sim.robot_messages());
}

async fn specced_product(shop: &Shop) -> (String, Vec<(String, [&'static str; 2])>) {
    let p = must(
        shop.admin(
            "POST",
            "/admin/products",
            Some(json!({"title": "纯棉T恤", "category": "clothing",
                "specs": [{"name": "颜色", "values": ["白色", "黑色"]}, {"name": "尺码", "values": ["M", "L"]}]})),
        )
        .await,
        201,
    );
    let pid = p["id"].as_str().unwrap().to_owned();
    let mut skus = Vec::new();
    for spec in [["黑色", "L"], ["白色", "M"], ["白色", "L"]] {
        let body = json!({"name": spec.join(" "), "kind": "main", "price_fen": 5900, "spec": spec});
        let s = must(shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(body)).await, 201);
        skus.push((s["id"].as_str().unwrap().to_owned(), spec));
    }
    (pid, skus)
}

async fn images_pass_wechat_before_shoppers_see_them(b: Backend) {
    let shop = shop_with_robot(b, None).await;
    let w = json!({"name": "上海仓", "region": "华东"});
    must(shop.admin("PUT", "/admin/warehouses/SH01", Some(w)).await, 200);
    let (pid, skus) = specced_product(&shop).await;

    // Specs: one SKU per combination, each value one of the attribute's.
    let twice = json!({"name": "又一件", "kind": "main", "price_fen": 5900, "spec": ["黑色", "L"]});
    let a = shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(twice)).await;
    assert_eq!((a.status, a.code()), (409, "SPEC_TAKEN"), "{}", a.body);
    let unpicked = json!({"name": "无规格", "kind": "main", "price_fen": 5900});
    assert_eq!(shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(unpicked)).await.status, 400);
    let unknown = json!({"name": "红", "kind": "main", "price_fen": 5900, "spec": ["红色", "L"]});
    assert_eq!(shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(unknown)).await.status, 400);
    let shrink = json!({"specs": [{"name": "颜色", "values": ["白色"]}, {"name": "尺码", "values": ["M", "L"]}]});
    let a = shop.admin("PATCH", &format!("/admin/products/{pid}"), Some(shrink)).await;
    assert_eq!(a.status, 400, "dropping 黑色 would orphan a SKU: {}", a.body);
    for (sku, spec) in &skus {
        if spec != &["白色", "L"] {
            let adj = json!({"sku_id": sku, "warehouse_id": "SH01", "delta": 5});
            must(shop.admin("POST", "/admin/stock/adjust", Some(adj)).await, 200);
        }
    }

    // Uploads: the shop picks the key and signs the type and exact length in.
    let bad_type = json!({"purpose": "product", "content_type": "text/html", "size": 10});
    assert_eq!(shop.admin("POST", "/admin/uploads", Some(bad_type)).await.status, 400);
    let too_big = json!({"purpose": "product", "content_type": "image/png", "size": 10 * 1024 * 1024 + 1});
    assert_eq!(shop.admin("POST", "/admin/uploads", Some(too_big)).await.status, 400);
    let signed = must(
        shop.admin(
            "POST",
            "/admin/uploads",
            Some(json!({"purpose": "product", "content_type": "image/png", "size": 4})),
        )
        .await,
        201,
    );
    let url = signed["url"].as_str().unwrap();
    let signed_headers = url.split("X-Amz-SignedHeaders=").nth(1).unwrap().split('&').next().unwrap();
    assert!(
        signed_headers.contains("content-length") && signed_headers.contains("content-type"),
        "type and length are signed: {signed_headers}"
    );
    assert!(signed["key"].as_str().unwrap().starts_with("products/"));
    let never_uploaded = signed["key"].as_str().unwrap().to_owned();

    let cover_bytes = b"\x89PNG cover of a clean t-shirt".to_vec();
    let cover = upload(&shop, "image/png", &cover_bytes).await;
    let g1 = upload(&shop, "image/jpeg", b"\xff\xd8 clean gallery").await;
    let risky = upload(&shop, "image/jpeg", b"\xff\xd8 RISKY picture").await;
    let sku_img = upload(&shop, "image/webp", b"RIFF webp black L").await;

    // Keys the shop did not issue, or that hold nothing, are refused before WeChat is asked.
    for key in ["products/0123456789abcdef0123456789abcdef.png", never_uploaded.as_str()] {
        let a = shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(json!({"cover": key}))).await;
        assert_eq!((a.status, a.code()), (422, "UPLOAD_MISMATCH"), "{key}: {}", a.body);
    }
    let a = shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(json!({"cover": "../etc/passwd"}))).await;
    assert_eq!(a.status, 400, "{}", a.body);

    let media = json!({"cover": cover, "gallery": [g1, risky], "sku_images": {skus[0].0.clone(): sku_img}});
    must(shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(media)).await, 200);
    let p = settled(&shop, &pid).await;
    assert_eq!(p["checks"][&risky]["state"], json!("risky"));
    assert_eq!(p["checks"][&cover]["state"], json!("pass"));
    assert_eq!(p["images"]["gallery"].as_array().unwrap().len(), 2, "operators see every image");

    // A risky image blocks publishing and tells the operators once.
    let a = shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await;
    assert_eq!((a.status, a.code()), (409, "MEDIA_NOT_CLEARED"), "{}", a.body);
    assert_eq!(a.body["error"]["details"]["images"][0]["key"], json!(risky));
    let told = robot_messages(&shop, 1).await;
    let text = told[0]["markdown"]["content"].as_str().unwrap();
    assert!(text.contains("纯棉T恤") && text.contains(&risky), "{text}");
    let token = shop.login("looker").await;
    assert_eq!(shop.call("GET", &format!("/products/{pid}"), Some(&token), None).await.status, 404);

    // Replaced, checked, published.
    let g2 = upload(&shop, "image/jpeg", b"\xff\xd8 another clean one").await;
    let media = json!({"cover": cover, "gallery": [g1, g2], "sku_images": {skus[0].0.clone(): sku_img}});
    must(shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(media)).await, 200);
    let p = settled(&shop, &pid).await;
    assert!(p["checks"].get(&risky).is_none(), "a dropped image's check goes with it");
    must(shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await, 200);

    let page = must(shop.call("GET", &format!("/products/{pid}"), Some(&token), None).await, 200);
    assert!(page.get("checks").is_none() && page.get("media").is_none(), "shoppers see URLs, not records");
    let cover_url = page["images"]["cover"].as_str().unwrap();
    assert!(cover_url.ends_with(&cover), "{cover_url}");
    let served = shop.http.get(cover_url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), cover_bytes, "the URL serves what was uploaded");
    assert_eq!(page["images"]["gallery"].as_array().unwrap().len(), 2);
    let table = &page["spec_table"];
    assert_eq!(table["attributes"][0], json!({"name": "颜色", "values": ["白色", "黑色"]}));
    let combos = table["combinations"].as_array().unwrap();
    let picked: Vec<Value> = combos.iter().map(|c| c["values"].clone()).collect();
    assert_eq!(picked, vec![json!(["白色", "M"]), json!(["白色", "L"]), json!(["黑色", "L"])], "in the picker's order");
    let black_l = combos.iter().find(|c| c["values"] == json!(["黑色", "L"])).unwrap();
    assert_eq!(black_l["sku_id"], json!(skus[0].0));
    assert_eq!((black_l["price"].clone(), black_l["in_stock"].clone()), (json!(5900), json!(true)));
    assert!(black_l["image"].as_str().unwrap().ends_with(&sku_img));
    let white_l = combos.iter().find(|c| c["values"] == json!(["白色", "L"])).unwrap();
    assert_eq!((white_l["available"].clone(), white_l["in_stock"].clone()), (json!(0), json!(false)));
    let list = e2e::shop::until(&shop, "/products", |l| !l["items"][0]["cover"].is_null()).await;
    assert!(list["items"][0]["cover"].as_str().unwrap().ends_with(&cover));
    assert_eq!(shop.sim.sim.robot_messages().len(), 1, "no second alert");
}

async fn product_text_passes_wechats_check(b: Backend) {
    let shop = Shop::start(b).await;
    let w = json!({"name": "上海仓", "region": "华东"});
    must(shop.admin("PUT", "/admin/warehouses/SH01", Some(w)).await, 200);
    let p = must(
        shop.admin(
            "POST",
            "/admin/products",
            Some(json!({"title": "普通水杯", "category": "home", "description": "违禁内容"})),
        )
        .await,
        201,
    );
    let pid = p["id"].as_str().unwrap();
    let body = json!({"name": "500ml", "kind": "main", "price_fen": 1900});
    must(shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(body)).await, 201);
    let a = shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await;
    assert_eq!((a.status, a.code()), (422, "CONTENT_RISKY"), "{}", a.body);
    // An operator without a bound WeChat cannot have WeChat check anything.
    let unbound = shop
        .call(
            "POST",
            "/admin/operators",
            Some(&shop.finance_token),
            Some(json!({"id": "editor", "name": "editor", "role": "operator"})),
        )
        .await;
    let unbound_token = must(unbound, 201)["token"].as_str().unwrap().to_owned();
    let fixed = json!({"description": "保温六小时"});
    let a = shop.call("PATCH", &format!("/admin/products/{pid}"), Some(&unbound_token), Some(fixed.clone())).await;
    must(a, 200);
    let a = shop.call("POST", &format!("/admin/products/{pid}/publish"), Some(&unbound_token), None).await;
    assert_eq!((a.status, a.code()), (409, "CONTENT_CHECK_UNAVAILABLE"), "{}", a.body);
    must(shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await, 200);
    // On sale, an edit is checked as publishing is.
    let a = shop.admin("PATCH", &format!("/admin/products/{pid}"), Some(json!({"subtitle": "REVIEW 待审"}))).await;
    assert_eq!((a.status, a.code()), (422, "CONTENT_RISKY"), "{}", a.body);
    assert_eq!(a.body["error"]["details"]["suggest"], json!("review"));
}

async fn the_push_url_takes_only_wechat(b: Backend) {
    let shop = shop_with_robot(b, None).await;
    let push = format!("{}/wechat/push", shop.base);
    // The URL check: the echostr back, only under a valid signature.
    let ts = domain::clock::wall().to_string();
    let sig = wechat::push::signature(&[PUSH_TOKEN, &ts, "77"]);
    let ok = shop
        .http
        .get(&push)
        .query(&[("signature", sig.as_str()), ("timestamp", &ts), ("nonce", "77"), ("echostr", "e-123")])
        .send()
        .await
        .unwrap();
    assert_eq!((ok.status().as_u16(), ok.text().await.unwrap()), (200, "e-123".to_owned()));
    let forged = shop
        .http
        .get(&push)
        .query(&[("signature", "0".repeat(40).as_str()), ("timestamp", &ts), ("nonce", "77"), ("echostr", "e")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    // A real verdict, then the same push replayed verbatim: applied once.
    let (pid, _) = specced_product(&shop).await;
    let img = upload(&shop, "image/png", b"REVIEW me").await;
    must(shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(json!({"cover": img}))).await, 200);
    let p = settled(&shop, &pid).await;
    assert_eq!(p["checks"][&img]["state"], json!("review"));
    robot_messages(&shop, 1).await;
    let sent = sim_pushes(&shop).await;
    let first = sent.last().unwrap();
    assert_eq!(first["answers"][0], json!({"status": 200, "body": "success"}));
    let replay = shop.http.post(first["url"].as_str().unwrap()).body(first["body"].as_str().unwrap().to_owned());
    let r = replay.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "a repeat is acknowledged");
    let again = must(shop.admin("GET", &format!("/admin/products/{pid}"), None).await, 200);
    assert_eq!(again["version"], p["version"], "and changes nothing");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(shop.sim.sim.robot_messages().len(), 1, "nor tells anyone twice");

    // A pass forged for that image (another token), or signed 10 minutes ago, is refused.
    let pass = json!({"MsgType": "event", "Event": "wxa_media_check", "trace_id": p["checks"][&img]["trace_id"],
        "errcode": 0, "result": {"suggest": "pass", "label": 100}});
    for tamper in [json!({"wrong_token": true}), json!({"timestamp_offset": -600})] {
        let r = sim_push(&shop, &pass, tamper.clone()).await;
        assert_eq!(r["answers"][0]["status"], json!(401), "{tamper}: {r}");
    }
    let after = must(shop.admin("GET", &format!("/admin/products/{pid}"), None).await, 200);
    assert_eq!(after["checks"][&img]["state"], json!("review"));
    // A genuine event of a kind the shop does not act on is acknowledged.
    let other = sim_push(&shop, &json!({"MsgType": "event", "Event": "user_enter_tempsession"}), json!({})).await;
    assert_eq!(other["answers"][0], json!({"status": 200, "body": "success"}));
}

async fn safe_mode_opens_only_our_ciphertext(b: Backend) {
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let shop = shop_with_robot(b, Some(KEY)).await;
    let (pid, _) = specced_product(&shop).await;
    let img = upload(&shop, "image/png", b"clean").await;
    must(shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(json!({"cover": img}))).await, 200);
    let p = settled(&shop, &pid).await;
    assert_eq!(p["checks"][&img]["state"], json!("pass"), "the encrypted verdict was opened");
    let sent = sim_pushes(&shop).await;
    let body: Value = serde_json::from_str(sent.last().unwrap()["body"].as_str().unwrap()).unwrap();
    assert!(body.get("Encrypt").is_some() && body.get("trace_id").is_none(), "safe mode hides the event: {body}");

    let push = format!("{}/wechat/push", shop.base);
    let ts = domain::clock::wall().to_string();
    let send = |query: Vec<(&'static str, String)>, body: String| {
        let req = shop.http.post(&push).query(&query).body(body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let signed = |encrypt: &str| {
        vec![
            ("signature", wechat::push::signature(&[PUSH_TOKEN, &ts, "9"])),
            ("timestamp", ts.clone()),
            ("nonce", "9".to_owned()),
            ("encrypt_type", "aes".to_owned()),
            ("msg_signature", wechat::push::signature(&[PUSH_TOKEN, &ts, "9", encrypt])),
        ]
    };
    let event = json!({"Event": "wxa_media_check", "trace_id": "t", "errcode": 0, "result": {"suggest": "pass"}});
    // A plain event to a shop in safe mode.
    let plain_q = vec![
        ("signature", wechat::push::signature(&[PUSH_TOKEN, &ts, "9"])),
        ("timestamp", ts.clone()),
        ("nonce", "9".to_owned()),
    ];
    assert_eq!(send(plain_q, event.to_string()).await, 400);
    // Encrypted for another mini-program, correctly signed.
    let other = simulator::security::encrypt(KEY, "wxffffffffffffffff", event.to_string().as_bytes()).unwrap();
    assert_eq!(send(signed(&other), json!({"Encrypt": other}).to_string()).await, 401);
    // Our ciphertext with a flipped byte, signed over the flipped text.
    let ours = simulator::security::encrypt(KEY, e2e::pay::APPID, event.to_string().as_bytes()).unwrap();
    let mut flipped = base64_flip(&ours);
    assert_eq!(send(signed(&flipped), json!({"Encrypt": flipped}).to_string()).await, 401);
    // Our ciphertext, msg_signature over another text.
    flipped.clear();
    let mut q = signed(&ours);
    q[4].1 = wechat::push::signature(&[PUSH_TOKEN, &ts, "9", "other"]);
    assert_eq!(send(q, json!({"Encrypt": ours}).to_string()).await, 401);
    // And the same, signed right: acknowledged (an unknown trace changes nothing).
    assert_eq!(send(signed(&ours), json!({"Encrypt": ours}).to_string()).await, 200);
}

fn base64_flip(b64: &str) -> String {
    use base64::Engine;
    let mut bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0x01;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn sim_pushes(shop: &Shop) -> Vec<Value> {
    let r = shop.http.get(format!("{}/sim/pushes", shop.sim.base_url())).send().await.unwrap();
    r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

async fn sim_push(shop: &Shop, event: &Value, tamper: Value) -> Value {
    let body = json!({"event": event, "tamper": tamper});
    let r = shop.http.post(format!("{}/sim/push", shop.sim.base_url())).json(&body).send().await.unwrap();
    r.json().await.unwrap()
}

on_both_stores!(
    images_pass_wechat_before_shoppers_see_them,
    product_text_passes_wechats_check,
    the_push_url_takes_only_wechat,
    safe_mode_opens_only_our_ciphertext,
);
