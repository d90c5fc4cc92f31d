//! Members: growth credited when a payment is applied and taken back in proportion when money
//! is refunded (both outbox consumers, each change written once under its source), the level
//! ladder growth climbs, its perks (free shipping reaches pricing now), and the daily check-in
//! decided by a conditional write.

use serde::Serialize;

use crate::App;
use crate::error::{AppError, Code};
use crate::ordering;
use domain::clock;
use domain::events::Event;
use domain::member::{
    CHECKIN_GROWTH, CheckinRewards, Ladder, LedgerEntry, Level, Member, growth_for_payment, growth_for_refund,
    next_streak,
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
    pub growth: i64,
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
        growth: m.growth,
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
/// consumption), once per order.
pub async fn on_payment(app: &App, order_no: &str) -> Result<(), AppError> {
    let o = ordering::get(&app.store, order_no).await?;
    let growth = growth_for_payment(o.goods_paid());
    if growth == 0 {
        return Ok(());
    }
    let entry = LedgerEntry {
        source: format!("growth-pay-{order_no}"),
        growth,
        points: 0,
        at: clock::now(),
        note: format!("消费 {}", o.goods_paid()),
    };
    // A higher level is announced by an event written with the growth (once, like it).
    let before = repo::members::get(app.store.as_ref(), &o.openid).await?.growth;
    let l = ladder(app).await?;
    let (from, to) = (l.level_for(before), l.level_for(before + growth));
    let mut with = Vec::new();
    if to.min_growth > from.min_growth {
        let event =
            Event::LevelUp { openid: o.openid.to_string(), level: to.name.clone(), source: entry.source.clone() };
        with.push(repo::outbox::append(&event, entry.at)?);
    }
    if repo::members::apply(app.store.as_ref(), &o.openid, &entry, Update::new(), with.clone()).await?
        && !with.is_empty()
    {
        crate::outbox::poke(app);
    }
    Ok(())
}

/// The outbox consumer of a completed refund: the refund's share of the growth the payment
/// earned goes back, once per refund.
pub async fn on_refund(app: &App, order_no: &str, out_refund_no: &str, amount: Fen) -> Result<(), AppError> {
    let o = ordering::get(&app.store, order_no).await?;
    let taken = growth_for_refund(o.goods_paid(), amount.min(o.goods_paid()));
    if taken == 0 {
        return Ok(());
    }
    let entry = LedgerEntry {
        source: format!("growth-refund-{out_refund_no}"),
        growth: -taken,
        points: 0,
        at: clock::now(),
        note: format!("退款 {amount}"),
    };
    match repo::members::apply(app.store.as_ref(), &o.openid, &entry, Update::new(), vec![]).await {
        Ok(_) => Ok(()),
        // Less growth than the refund's share (the payment's credit has not landed): retried.
        Err(store::StoreError::Cancelled { .. }) => {
            Err(AppError::new(Code::Conflict, "the payment's growth is not credited yet"))
        }
        Err(e) => Err(e.into()),
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
        at: now,
        note: format!("签到 第{streak}天"),
    };
    let extra = Update::new().set("last_checkin_day", day.as_str()).set("streak", i64::from(streak));
    if !repo::members::apply(app.store.as_ref(), openid, &entry, extra, vec![]).await? {
        return Err(AppError::new(Code::AlreadyCheckedIn, "already checked in today; come back tomorrow"));
    }
    Ok(CheckedIn { day, streak, growth: CHECKIN_GROWTH, points })
}
