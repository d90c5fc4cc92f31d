//! Reviews over HTTP on both stores, against the simulator's content checks and the
//! S3-compatible server: once per product per received order, text through `msg_sec_check`
//! (risky hidden, "review" held for an operator), images through the media check's push, the
//! operators' reply, hide, feature and approve, and a rating summary that after 1,000 reviews
//! equals a recount of the reviews themselves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::review::{RatingCounters, Review};
use e2e::shop::*;
use e2e::{Answer, Backend, Shop, on_both_stores};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn must(a: Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    a.body
}

/// A published product with one SKU and plenty of stock in SH01; its id.
async fn product(shop: &Shop, title: &str) -> (String, String) {
    let p = must(shop.admin("POST", "/admin/products", Some(json!({"title": title, "category": "test"}))).await, 201);
    let pid = p["id"].as_str().unwrap().to_owned();
    let sku = add_sku(shop, &pid, json!({"name": "标准", "kind": "main", "price_fen": 1_000})).await;
    adjust(shop, &sku, "SH01", 10_000).await;
    must(shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await, 200);
    (pid, sku)
}

/// An order of one unit of each SKU, paid, shipped from SH01 and received; its number.
async fn received(shop: &Shop, token: &str, skus: &[String]) -> String {
    let items: Vec<Value> = skus.iter().map(|s| json!({"sku_id": s, "quantity": 1})).collect();
    let placed = place(shop, token, json!(items)).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let no = placed.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(shop, token, &no).await;
    let shipment = json!({"carrier": "SF", "tracking_no": format!("SF{}", &no[no.len() - 8..])});
    must(shop.admin("POST", &format!("/admin/orders/{no}/shipments/SH01"), Some(shipment)).await, 200);
    must(shop.call("POST", &format!("/orders/{no}/receive"), Some(token), None).await, 200);
    no
}

async fn review(shop: &Shop, token: &str, no: &str, body: Value) -> Answer {
    shop.call("POST", &format!("/orders/{no}/reviews"), Some(token), Some(body)).await
}

async fn rating(shop: &Shop, pid: &str) -> Value {
    must(shop.call("GET", &format!("/products/{pid}"), None, None).await, 200)["rating"].clone()
}

/// The shopper's own review of `pid` in order `no`, once `done` holds of it.
async fn own_until(shop: &Shop, token: &str, no: &str, pid: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let all = must(shop.call("GET", &format!("/orders/{no}/reviews"), Some(token), None).await, 200);
        if let Some(r) = all["items"].as_array().unwrap().iter().find(|r| r["product_id"] == json!(pid)) {
            if done(r) {
                return r.clone();
            }
            last = r.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the review did not come to what was awaited: {last}");
}

on_both_stores!(reviews_once_per_product_through_the_content_checks, rating_after_a_thousand_reviews_equals_a_recount,);

/// One shopper, two products; then the checks and the operators, tried the way a shopper
/// who wants to game the rating would.
async fn reviews_once_per_product_through_the_content_checks(b: Backend) {
    let shop = Shop::start(b).await;
    shop.media_ready().await;
    warehouse(&shop, "SH01").await;
    let (dress, dress_sku) = product(&shop, "碎花连衣裙").await;
    let (shirt, shirt_sku) = product(&shop, "纯棉T恤").await;
    let (other, _) = product(&shop, "没买的商品").await;
    let token = shop.login("reviewer").await;
    // Not before the goods are received.
    let placed = place(&shop, &token, json!([{"sku_id": dress_sku, "quantity": 1}])).await;
    let early_no = placed.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &early_no).await;
    let early = review(&shop, &token, &early_no, json!({"product_id": dress, "stars": 5})).await;
    assert_eq!((early.status, early.code()), (409, "NOT_REVIEWABLE"), "{}", early.body);
    let no = received(&shop, &token, &[dress_sku.clone(), shirt_sku.clone()]).await;
    // Refusals: bad stars, a product the order does not hold, someone else's order, an
    // image another shopper uploaded, a product image.
    let zero = review(&shop, &token, &no, json!({"product_id": dress, "stars": 0})).await;
    assert_eq!((zero.status, zero.code()), (400, "INVALID_INPUT"));
    let long = review(&shop, &token, &no, json!({"product_id": dress, "stars": 5, "text": "好".repeat(501)})).await;
    assert_eq!((long.status, long.code()), (400, "INVALID_INPUT"));
    let not_bought = review(&shop, &token, &no, json!({"product_id": other, "stars": 5})).await;
    assert_eq!((not_bought.status, not_bought.code()), (409, "NOT_REVIEWABLE"));
    let stranger = shop.login("stranger").await;
    let theirs = review(&shop, &stranger, &no, json!({"product_id": dress, "stars": 1, "text": "差"})).await;
    assert_eq!((theirs.status, theirs.code()), (404, "NOT_FOUND"), "another shopper's order is not theirs to review");
    let strangers_image = upload_review_image(&shop, &stranger, "image/png", b"a stranger's picture").await;
    let borrowed =
        review(&shop, &token, &no, json!({"product_id": dress, "stars": 5, "images": [strangers_image]})).await;
    assert_eq!((borrowed.status, borrowed.code()), (422, "UPLOAD_MISMATCH"), "{}", borrowed.body);
    let product_image = upload_image(&shop, "image/png", b"an operator's picture").await;
    let wrong_kind =
        review(&shop, &token, &no, json!({"product_id": dress, "stars": 5, "images": [product_image]})).await;
    assert_eq!((wrong_kind.status, wrong_kind.code()), (400, "INVALID_INPUT"));
    let not_uploaded = upload_review_sign_only(&shop, &token).await;
    let missing = review(&shop, &token, &no, json!({"product_id": dress, "stars": 5, "images": [not_uploaded]})).await;
    assert_eq!((missing.status, missing.code()), (422, "UPLOAD_MISMATCH"));
    assert_eq!(rating(&shop, &dress).await["count"], json!(0), "refusals count nothing");

    // A review with a picture: published at once, the picture shown once WeChat passes it.
    let photo = upload_review_image(&shop, &token, "image/jpeg", b"a photo of the dress").await;
    let body = json!({"product_id": dress, "stars": 5, "text": "面料很舒服", "images": [photo], "nickname": "小红"});
    let first = must(review(&shop, &token, &no, body.clone()).await, 201);
    assert_eq!((first["state"].clone(), first["author"].clone()), (json!("published"), json!("小红")));
    let again = review(&shop, &token, &no, body).await;
    assert_eq!(
        (again.status, again.body["created_at"].clone()),
        (200, first["created_at"].clone()),
        "a retry answers the first"
    );
    let second = review(&shop, &token, &no, json!({"product_id": dress, "stars": 1, "text": "改主意了"})).await;
    assert_eq!((second.status, second.code()), (409, "ALREADY_REVIEWED"));
    let r = rating(&shop, &dress).await;
    assert_eq!(
        (r["count"].clone(), r["average"].clone(), r["good_percent"].clone()),
        (json!(1), json!(5.0), json!(100))
    );
    own_until(&shop, &token, &no, &dress, |r| r["images"][0]["check"] == json!("pass")).await;
    let listed = must(shop.call("GET", &format!("/products/{dress}/reviews"), None, None).await, 200);
    let shown = &listed["items"][0];
    assert_eq!((shown["author"].clone(), shown["bought"].clone()), (json!("小红"), json!(["碎花连衣裙 标准"])));
    let url = shown["images"][0].as_str().unwrap();
    assert_eq!(shop.http.get(url).send().await.unwrap().bytes().await.unwrap().as_ref(), b"a photo of the dress");
    assert!(shown.get("openid").is_none() && shown.get("order_no").is_none(), "no shopper identifiers: {shown}");

    // Text WeChat wants a person to read: held, not counted, until an operator approves.
    let held = must(
        review(&shop, &token, &no, json!({"product_id": shirt, "stars": 2, "text": "待审 的内容", "anonymous": true}))
            .await,
        201,
    );
    assert_eq!((held["state"].clone(), held["author"].clone()), (json!("held"), json!("匿名用户")));
    assert_eq!(rating(&shop, &shirt).await["count"], json!(0));
    let queue = until_admin(&shop, "/admin/reviews?state=held", |q| !q["items"].as_array().unwrap().is_empty()).await;
    assert_eq!(queue["items"][0]["product_id"], json!(shirt));
    let approved = must(shop.admin("POST", &format!("/admin/reviews/{no}/{shirt}/approve"), None).await, 200);
    assert_eq!(approved["state"], json!("published"));
    let r = rating(&shop, &shirt).await;
    assert_eq!(
        (r["count"].clone(), r["good_percent"].clone(), r["stars"].clone()),
        (json!(1), json!(0), json!([0, 1, 0, 0, 0]))
    );
    let twice = must(shop.admin("POST", &format!("/admin/reviews/{no}/{shirt}/approve"), None).await, 200);
    assert_eq!(twice["state"], json!("published"));
    assert_eq!(rating(&shop, &shirt).await["count"], json!(1), "approving twice counts once");

    // Risky text: hidden, and an operator cannot publish it.
    let second_token = shop.login("second-buyer").await;
    let no2 = received(&shop, &second_token, std::slice::from_ref(&dress_sku)).await;
    let risky = must(
        review(&shop, &second_token, &no2, json!({"product_id": dress, "stars": 1, "text": "违禁 广告"})).await,
        201,
    );
    assert_eq!(risky["state"], json!("hidden"));
    let forced = shop.admin("POST", &format!("/admin/reviews/{no2}/{dress}/approve"), None).await;
    assert_eq!((forced.status, forced.code()), (422, "CONTENT_RISKY"));
    assert_eq!(rating(&shop, &dress).await["count"], json!(1));

    // A risky picture: published while WeChat looks, hidden (and uncounted) once it answers.
    let third = shop.login("third-buyer").await;
    let no3 = received(&shop, &third, std::slice::from_ref(&dress_sku)).await;
    let bad = upload_review_image(&shop, &third, "image/png", b"RISKY picture").await;
    let pending =
        must(review(&shop, &third, &no3, json!({"product_id": dress, "stars": 4, "images": [bad]})).await, 201);
    assert_eq!(pending["images"][0]["check"], json!("pending"));
    own_until(&shop, &third, &no3, &dress, |r| r["state"] == json!("hidden")).await;
    let r = rating(&shop, &dress).await;
    assert_eq!((r["count"].clone(), r["average"].clone()), (json!(1), json!(5.0)), "{r}");

    // The operators answer, feature and hide.
    let fourth = shop.login("fourth-buyer").await;
    let no4 = received(&shop, &fourth, std::slice::from_ref(&dress_sku)).await;
    must(review(&shop, &fourth, &no4, json!({"product_id": dress, "stars": 3, "text": "一般"})).await, 201);
    let r = rating(&shop, &dress).await;
    assert_eq!(
        (r["count"].clone(), r["average"].clone(), r["good_percent"].clone()),
        (json!(2), json!(4.0), json!(50))
    );
    let reply = json!({"text": "感谢您的反馈，我们会改进"});
    must(shop.admin("PUT", &format!("/admin/reviews/{no4}/{dress}/reply"), Some(reply)).await, 200);
    let risky_reply =
        shop.admin("PUT", &format!("/admin/reviews/{no4}/{dress}/reply"), Some(json!({"text": "违禁"}))).await;
    assert_eq!((risky_reply.status, risky_reply.code()), (422, "CONTENT_RISKY"));
    must(
        shop.admin("PUT", &format!("/admin/reviews/{no4}/{dress}/featured"), Some(json!({"featured": true}))).await,
        200,
    );
    let listed = until(&shop, &format!("/products/{dress}/reviews"), |l| {
        l["items"].as_array().is_some_and(|i| i.len() == 2 && i[0]["featured"] == json!(true))
    })
    .await;
    assert_eq!(listed["items"][0]["reply"]["text"], json!("感谢您的反馈，我们会改进"), "{listed}");
    assert_eq!(listed["items"][1]["author"], json!("小红"));
    must(shop.admin("POST", &format!("/admin/reviews/{no4}/{dress}/hide"), None).await, 200);
    let r = rating(&shop, &dress).await;
    assert_eq!((r["count"].clone(), r["average"].clone()), (json!(1), json!(5.0)));
    until(&shop, &format!("/products/{dress}/reviews"), |l| l["items"].as_array().is_some_and(|i| i.len() == 1)).await;
    // Shoppers cannot reach the operators' routes.
    let forged = shop.call("POST", &format!("/admin/reviews/{no4}/{dress}/approve"), Some(&fourth), None).await;
    assert_eq!(forged.status, 401);
}

/// Signs a review upload and never PUTs it: the key.
async fn upload_review_sign_only(shop: &Shop, token: &str) -> String {
    let a = shop.call("POST", "/me/uploads", Some(token), Some(json!({"content_type": "image/png", "size": 10}))).await;
    must(a, 201)["key"].as_str().unwrap().to_owned()
}

async fn until_admin(shop: &Shop, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let a = must(shop.admin("GET", path, None).await, 200);
        if done(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{path} did not come to what was awaited");
}

const PRODUCTS: usize = 20;
const BUYERS: usize = 50;

/// 50 shoppers each review the 20 products of their received order at once (1,000 reviews,
/// some held, some hidden), operators approve and hide some; every product's summary then
/// equals a recount of its reviews, read one by one from the orders.
async fn rating_after_a_thousand_reviews_equals_a_recount(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    warehouse(&shop, "SH01").await;
    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        products.push(product(&shop, &format!("商品{i}")).await);
    }
    let skus: Arc<Vec<String>> = Arc::new(products.iter().map(|(_, s)| s.clone()).collect());
    let orders: Vec<(String, String)> = futures_util::stream::iter(0..BUYERS)
        .map(|i| {
            let (shop, skus) = (shop.clone(), skus.clone());
            async move {
                let token = shop.login(&format!("buyer-{i}")).await;
                let no = received(&shop, &token, &skus).await;
                (token, no)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let writes: Vec<(usize, usize)> = (0..BUYERS).flat_map(|o| (0..PRODUCTS).map(move |p| (o, p))).collect();
    let products = Arc::new(products);
    let orders = Arc::new(orders);
    let answers: Vec<(usize, usize, u16, String)> = futures_util::stream::iter(writes)
        .map(|(o, p)| {
            let (shop, products, orders) = (shop.clone(), products.clone(), orders.clone());
            async move {
                let (token, no) = &orders[o];
                let n = o * PRODUCTS + p;
                let stars = 1 + (n * 7 + n / 3) % 5;
                let text = match n % 20 {
                    0 => "待审 请人工看看".to_owned(),
                    1 => "违禁 内容".to_owned(),
                    _ => format!("第{n}条评价"),
                };
                let body = json!({"product_id": products[p].0, "stars": stars, "text": text});
                let a = review(&shop, token, no, body).await;
                (o, p, a.status, a.body["state"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let refused: Vec<_> = answers.iter().filter(|a| a.2 != 201).collect();
    assert!(refused.is_empty(), "every review is taken: {refused:?}");
    let by_state = |s: &str| answers.iter().filter(|a| a.3 == s).count();
    assert_eq!((by_state("published"), by_state("held"), by_state("hidden")), (900, 50, 50));
    // Operators approve every other held review and hide every tenth published one.
    let mut acts = Vec::new();
    for (i, (o, p, _, state)) in answers.iter().enumerate() {
        let action = match state.as_str() {
            "held" if i % 2 == 0 => "approve",
            "published" if i % 10 == 3 => "hide",
            _ => continue,
        };
        acts.push(format!("/admin/reviews/{}/{}/{action}", orders[*o].1, products[*p].0));
    }
    // One after another, as operators work (each action is a link of the audit trail's chain).
    for path in acts {
        must(shop.admin("POST", &path, None).await, 200);
    }
    // The recount: every review, read from its order.
    let mut recounted: HashMap<String, Vec<Review>> = HashMap::new();
    for (_, no) in orders.iter() {
        for r in store::repo::reviews::of_order(shop.app.store.as_ref(), &e2e::id(no)).await.unwrap() {
            recounted.entry(r.product_id.to_string()).or_default().push(r);
        }
    }
    assert_eq!(recounted.values().map(Vec::len).sum::<usize>(), BUYERS * PRODUCTS);
    let mut total = 0;
    for (pid, _) in products.iter() {
        let expected = RatingCounters::recount(&recounted[pid]);
        let stored = store::repo::reviews::rating(shop.app.store.as_ref(), &e2e::id(pid)).await.unwrap();
        assert_eq!(stored, expected, "product {pid}: the summary equals a recount");
        let shown = rating(&shop, pid).await;
        assert_eq!(shown, serde_json::to_value(expected.summary()).unwrap());
        total += expected.count;
    }
    let approved = answers.iter().enumerate().filter(|(i, a)| a.3 == "held" && i % 2 == 0).count() as i64;
    let hidden = answers.iter().enumerate().filter(|(i, a)| a.3 == "published" && i % 10 == 3).count() as i64;
    assert_eq!(total, 900 + approved - hidden);
}
