//! Members: growth and points credited when a payment is applied (points frozen until the
//! order completes) and taken back in proportion when money is refunded (outbox consumers,
//! each change written once under its source), the level ladder growth climbs and its perks
//! (free shipping and the points multiplier reach pricing), and the daily check-in decided by
//! a conditional write. Points spent at checkout move in the placing and closing transactions
//! (`store::repo::orders::reserve`, `ordering::close_one`).

use serde::Serialize;

use crate::App;
use crate::error::{AppError, Code};
use crate::ordering;
use domain::clock;
use domain::events::Event;
use domain::member::{
    CHECKIN_GROWTH, CheckinRewards, Ladder, LedgerEntry, Level, Member, growth_for_payment, next_streak,
    points_for_payment, share,
};
use domain::money::Fen;
use store::{Update, repo};

pub async fn ladder(app: &App) -> Result<Ladder, AppError> {
    Ok(repo::catalog::ladder(app.store.as_ref()).await?)
}

pub async fn set_ladder(app: &App, l: Ladder) -> Result<Ladder, AppError> {
    let l = l.checked()?;
    repo::catalog::put_ladder(app.store.as_ref(), &l).await?;
    Ok(l)
}

/// The level a shopper stands at now (the first for a shopper who is no member yet).
pub async fn level_of(app: &App, openid: &str) -> Result<Level, AppError> {
    let m = repo::members::get(app.store.as_ref(), openid).await?;
    Ok(ladder(app).await?.level_for(m.growth).clone())
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    /// The RFM segment of the last daily scoring.
    pub segment: Option<String>,
    pub growth: i64,
    pub points_debt: i64,
    pub level: Level,
    /// The next level and the growth still needed, at the top none.
    pub next_level: Option<(String, i64)>,
    pub points_available: i64,
    pub points_frozen: i64,
    pub streak: u32,
    pub checked_in_today: bool,
}

pub async fn view(app: &App, openid: &str) -> Result<MemberView, AppError> {
    let m: Member = repo::members::get(app.store.as_ref(), openid).await?;
    let l = ladder(app).await?;
    let level = l.level_for(m.growth).clone();
    let next_level =
        l.levels.iter().find(|x| x.min_growth > m.growth).map(|x| (x.name.clone(), x.min_growth - m.growth));
    let today = clock::business_day(clock::now()).map(|d| d.to_string());
    Ok(MemberView {
        segment: m.segment.clone(),
        growth: m.growth,
        points_debt: m.points_debt,
        level,
        next_level,
        points_available: m.points_available,
        points_frozen: m.points_frozen,
        streak: m.streak,
        checked_in_today: m.last_checkin_day.is_some() && m.last_checkin_day == today,
    })
}

pub async fn ledger(app: &App, openid: &str) -> Result<Vec<LedgerEntry>, AppError> {
    Ok(repo::members::ledger(app.store.as_ref(), openid, 50).await?)
}

/// The outbox consumer of a payment: 2 growth per whole yuan of goods paid (freight is not
/// consumption) and points at the member's level multiplier, frozen until the order completes;
/// once per order.
pub async fn on_payment(app: &App, order_no: &str) -> Result<(), AppError> {
    let o = ordering::get(&app.store, order_no).await?;
    let before = repo::members::get(app.store.as_ref(), &o.openid).await?.growth;
    let l = ladder(app).await?;
    let growth = growth_for_payment(o.goods_paid());
    let frozen = points_for_payment(o.goods_paid(), l.level_for(before).perks.points_multiplier_pct);
    if growth == 0 && frozen == 0 {
        return Ok(());
    }
    let entry = LedgerEntry {
        source: format!("pay-{order_no}"),
        growth,
        points: 0,
        frozen,
        at: clock::now(),
        note: format!("消费 {}", o.goods_paid()),
    };
    // A higher level is announced by an event written with the growth (once, like it).
    let (from, to) = (l.level_for(before), l.level_for(before + growth));
    let mut with = Vec::new();
    if to.min_growth > from.min_growth {
        let event =
            Event::LevelUp { openid: o.openid.to_string(), level: to.name.clone(), source: entry.source.clone() };
        with.push(repo::outbox::append(&event, entry.at)?);
    }
    let announced = !with.is_empty();
    let paid_at = o.paid_at.unwrap_or(entry.at);
    with.push(repo::members::month_op(&o.openid, &month_of(paid_at), 1, o.payable.fen()));
    let extra = Update::new().set("last_paid_at", paid_at);
    if repo::members::apply(app.store.as_ref(), &o.openid, &entry, extra, with).await? && announced {
        crate::outbox::poke(app);
    }
    Ok(())
}

/// The outbox consumer of a completed refund, once per refund: the refund's share of the
/// growth the payment earned goes back; its share of the points earned is cancelled while they
/// are frozen, or taken from the balance once the order completed (what was spent meanwhile
/// becomes a debt later earnings settle); its share of the points spent on the order returns.
pub async fn on_refund(app: &App, order_no: &str, out_refund_no: &str, amount: Fen) -> Result<(), AppError> {
    let o = ordering::get(&app.store, order_no).await?;
    let store = app.store.as_ref();
    let paid = o.payable;
    let growth = share(growth_for_payment(o.goods_paid()), paid, amount);
    let earned = repo::members::entry(store, &o.openid, &format!("pay-{order_no}")).await?.map_or(0, |e| e.frozen);
    let earned_share = share(earned, paid, amount);
    let back = share(o.points_used, paid, amount);
    let completed = o.fulfilment == domain::order::Fulfilment::Completed;
    let (mut points, frozen) = if completed { (back - earned_share, 0) } else { (back, -earned_share) };
    let mut debt = 0;
    if points < 0 {
        let available = repo::members::get(store, &o.openid).await?.points_available;
        if available < -points {
            debt = -points - available;
            points = -available;
        }
    }
    if growth == 0 && points == 0 && frozen == 0 && debt == 0 {
        return Ok(());
    }
    let entry = LedgerEntry {
        source: format!("refund-{out_refund_no}"),
        growth: -growth,
        points,
        frozen,
        at: clock::now(),
        note: format!("退款 {amount}"),
    };
    // The month's figures for RFM: the money back, and the order itself once fully refunded.
    let month = month_of(o.paid_at.unwrap_or(entry.at));
    let fully = o.refunded >= o.payable;
    let months = vec![repo::members::month_op(&o.openid, &month, if fully { -1 } else { 0 }, -amount.fen())];
    // The debt moves in the same transaction as the entry, so it is recorded exactly once.
    let extra = if debt > 0 { Update::new().add("points_debt", debt) } else { Update::new() };
    match repo::members::apply(store, &o.openid, &entry, extra, months).await {
        Ok(_) => Ok(()),
        // Less than the refund's share is held (the payment's credit has not landed, or a
        // spend raced): the outbox retries.
        Err(store::StoreError::Cancelled { .. }) => {
            Err(AppError::new(Code::Conflict, "the member's balance moved; retry"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The outbox consumer of [`Event::OrderCompleted`]: the order's frozen points (less what
/// refunds cancelled) become available, settling any debt first; once per order.
pub async fn on_completed(app: &App, order_no: &str) -> Result<(), AppError> {
    let o = ordering::get(&app.store, order_no).await?;
    let store = app.store.as_ref();
    let earned = repo::members::entry(store, &o.openid, &format!("pay-{order_no}")).await?.map_or(0, |e| e.frozen);
    let mut cancelled = 0;
    for r in repo::refunds::of_order(store, order_no).await? {
        if let Some(e) = repo::members::entry(store, &o.openid, &format!("refund-{}", r.out_refund_no)).await? {
            cancelled += e.frozen;
        }
    }
    let left = (earned + cancelled).max(0);
    if left == 0 {
        return Ok(());
    }
    let debt = repo::members::get(store, &o.openid).await?.points_debt;
    let settled = debt.clamp(0, left);
    let entry = LedgerEntry {
        source: format!("unfreeze-{order_no}"),
        growth: 0,
        points: left - settled,
        frozen: -left,
        at: clock::now(),
        note: if settled > 0 { format!("积分解冻（抵还 {settled}）") } else { "积分解冻".into() },
    };
    let extra = if settled > 0 { Update::new().add("points_debt", -settled) } else { Update::new() };
    repo::members::apply(store, &o.openid, &entry, extra, vec![]).await?;
    Ok(())
}

/// `yyyy-mm` of a unix time in Shanghai.
fn month_of(unix: i64) -> String {
    clock::business_day(unix).map(|d| format!("{:04}-{:02}", d.year(), u8::from(d.month()))).unwrap_or_default()
}

/// The daily scoring: every member's RFM segment from their last 12 months, and the counts
/// per segment as a report for operators.
pub async fn score(app: &App, now: i64) -> Result<serde_json::Value, AppError> {
    let t = domain::rfm::Thresholds::default();
    let first_month = month_of(now - 365 * 86_400);
    let mut counts: std::collections::BTreeMap<&'static str, i64> =
        domain::rfm::Segment::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut after = None;
    loop {
        let (members, next) = repo::members::page(app.store.as_ref(), 200, after).await?;
        for (openid, m) in members {
            let (orders, amount) = repo::members::months_since(app.store.as_ref(), &openid, &first_month).await?;
            let days = m.last_paid_at.map(|at| (now - at).max(0) / 86_400);
            let seg = domain::rfm::segment(days, orders, amount, &t);
            repo::members::set_segment(app.store.as_ref(), &openid, seg.as_str(), now).await?;
            *counts.entry(seg.as_str()).or_insert(0) += 1;
        }
        after = next;
        if after.is_none() {
            break;
        }
    }
    let report = serde_json::json!({
        "scored_at": now,
        "thresholds": t,
        "segments": domain::rfm::Segment::ALL.iter().map(|s| serde_json::json!({
            "segment": s.as_str(), "label": s.label(), "members": counts[s.as_str()], "high_value": s.high_value(),
        })).collect::<Vec<_>>(),
    });
    repo::members::put_segment_report(app.store.as_ref(), &report).await?;
    Ok(report)
}

pub async fn segment_report(app: &App) -> Result<serde_json::Value, AppError> {
    repo::members::segment_report(app.store.as_ref())
        .await?
        .ok_or_else(|| AppError::not_found("segment report (the daily scoring has not run yet)"))
}

/// A segment as CSV for 消费分层运营: openids shortened, phones masked.
pub async fn export_segment(app: &App, segment: domain::rfm::Segment) -> Result<String, AppError> {
    let l = ladder(app).await?;
    let mut out = String::from("member,phone,level,growth,points,segment\n");
    let mut after = None;
    loop {
        let (members, next) = repo::members::page(app.store.as_ref(), 200, after).await?;
        for (openid, m) in members.into_iter().filter(|(_, m)| m.segment.as_deref() == Some(segment.as_str())) {
            let phone = repo::users::get(app.store.as_ref(), &openid)
                .await?
                .and_then(|u| u.phone)
                .map(|p| domain::user::mask_phone(&p))
                .unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                domain::user::mask_openid(&openid),
                phone,
                l.level_for(m.growth).name,
                m.growth,
                m.points_available,
                segment.label()
            ));
        }
        after = next;
        if after.is_none() {
            return Ok(out);
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CheckedIn {
    pub day: String,
    pub streak: u32,
    pub growth: i64,
    pub points: i64,
}

/// Checks the shopper in for today's Shanghai day: once, decided by the conditional write of
/// the day's ledger entry; the streak grows over consecutive days and its rewards follow.
pub async fn check_in(app: &App, openid: &str, now: i64) -> Result<CheckedIn, AppError> {
    let day = clock::business_day(now).map(|d| d.to_string()).unwrap_or_default();
    let yesterday = clock::business_day(now - 86_400).map(|d| d.to_string()).unwrap_or_default();
    let m = repo::members::get(app.store.as_ref(), openid).await?;
    if m.last_checkin_day.as_deref() == Some(day.as_str()) {
        return Err(AppError::new(Code::AlreadyCheckedIn, "already checked in today; come back tomorrow"));
    }
    let streak = next_streak(m.last_checkin_day.as_deref(), &yesterday, m.streak);
    let points = CheckinRewards::default().points(streak);
    let entry = LedgerEntry {
        source: format!("checkin-{day}"),
        growth: CHECKIN_GROWTH,
        points,
        frozen: 0,
        at: now,
        note: format!("签到 第{streak}天"),
    };
    let extra = Update::new().set("last_checkin_day", day.as_str()).set("streak", i64::from(streak));
    if !repo::members::apply(app.store.as_ref(), openid, &entry, extra, vec![]).await? {
        return Err(AppError::new(Code::AlreadyCheckedIn, "already checked in today; come back tomorrow"));
    }
    Ok(CheckedIn { day, streak, growth: CHECKIN_GROWTH, points })
}
