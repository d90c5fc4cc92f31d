//! Members: growth and points credited when a payment is applied (points frozen until the
//! order completes) and taken back by the goods refunded (outbox consumers,
//! each change written once under its source), the level ladder growth climbs and its perks
//! (free shipping and the points multiplier reach pricing), and the daily check-in decided by
//! a conditional write. Points spent at checkout are a hold of the order, taken and given back
//! with it (`store::repo::holds`). Perk coupons are issued by the consumer of a level-up and by
//! the daily job's workflow, from the templates the ladder names here.

use serde::Serialize;

use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::clock;
use domain::clock::month_of;
use domain::events::Event;
use domain::ids::{OpenId, OrderNo, OutRefundNo, RequestId, TemplateId};
use domain::member::{
    Also, CHECKIN_GROWTH, Ladder, LedgerEntry, LedgerSource, Level, Member, PointsFlow, Rules, growth_for_payment,
    next_streak, points_for_payment, share,
};
use domain::money::Fen;
use domain::operator::{Caller, Role};
use store::repo;
use store::repo::allowances::{self, Power};

pub async fn ladder(app: &App) -> Result<Ladder, AppError> {
    Ok(repo::catalog::ladder(app.store.as_ref()).await?)
}

pub async fn set_ladder(app: &App, l: Ladder) -> Result<Ladder, AppError> {
    let l = l.checked()?;
    repo::catalog::put_ladder(app.store.as_ref(), &l).await?;
    Ok(l)
}

pub async fn rules(app: &App) -> Result<Rules, AppError> {
    Ok(repo::catalog::member_rules(app.store.as_ref()).await?)
}

pub async fn set_rules(app: &App, r: Rules) -> Result<Rules, AppError> {
    let r = r.checked()?;
    repo::catalog::put_member_rules(app.store.as_ref(), &r).await?;
    Ok(r)
}

/// The level a shopper stands at now (the first for a shopper who is no member yet).
pub async fn level_of(app: &App, openid: &OpenId) -> Result<Level, AppError> {
    let m = repo::members::get(app.store.as_ref(), openid).await?;
    Ok(ladder(app).await?.standing(&m).clone())
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
    /// Levels the keep rule took; the next payment gives them back.
    pub demoted: u8,
    pub birthday: Option<String>,
}

pub async fn view(app: &App, openid: &OpenId) -> Result<MemberView, AppError> {
    let m: Member = repo::members::get(app.store.as_ref(), openid).await?;
    let l = ladder(app).await?;
    let level = l.standing(&m).clone();
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
        demoted: m.demoted,
        birthday: m.birthday.clone(),
    })
}

pub async fn ledger(app: &App, openid: &OpenId) -> Result<Vec<LedgerEntry>, AppError> {
    Ok(repo::members::ledger(app.store.as_ref(), openid, 50).await?)
}

/// The outbox consumer of a payment: 2 growth per whole yuan of goods paid (freight is not
/// consumption) and points at the member's level multiplier, frozen until the order completes;
/// once per order.
pub async fn on_payment(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    let o = lookup::order(app.store.as_ref(), order_no).await?;
    let m = repo::members::get(app.store.as_ref(), o.openid()).await?;
    let before = m.growth;
    let l = ladder(app).await?;
    let standing = l.standing(&m);
    let growth = growth_for_payment(o.goods_paid());
    let frozen = points_for_payment(o.goods_paid(), standing.perks.points_multiplier_pct);
    // A higher level is announced by an event written with the growth (once, like it), and
    // the entry says so. A payment also ends a stretch the keep rule counted: the level of the
    // growth is back.
    let (from, to) = (standing, l.level_for(before + growth));
    let mut note = format!("消费 {}", o.goods_paid());
    if to.min_growth > from.min_growth {
        note.push_str(&format!("，{} → {}", from.name, to.name));
    }
    let entry = LedgerEntry {
        source: LedgerSource::Payment(order_no.clone()),
        growth,
        points: 0,
        frozen,
        at: clock::now(),
        note,
    };
    let mut with = Vec::new();
    if to.min_growth > from.min_growth {
        let event = Event::LevelUp { openid: o.openid().clone(), level: to.name.clone(), source: entry.source.clone() };
        with.push(repo::outbox::append(&event, entry.at)?);
    }
    let announced = !with.is_empty();
    let paid_at = o.paid_at().unwrap_or(entry.at);
    with.push(repo::members::month_op(o.openid(), &month_of(paid_at), 1, o.payable().fen()));
    let also = Also { paid_at: Some(paid_at), growth_was: announced.then_some(before), ..Also::default() };
    let flow = PointsFlow::default();
    if repo::members::apply(app.store.as_ref(), o.openid(), &entry, flow, also, with).await? && announced {
        app.poke_outbox();
    }
    Ok(())
}

/// The outbox consumer of a completed refund, once per refund. Growth and points were earned
/// on goods, not freight, so what goes back follows the goods refunded (a refund counts against
/// the goods first, freight last), and it is what the order's refunds so far take back in all
/// less what the earlier ones took, so rounding leaves nothing behind once all is refunded:
/// the refund's growth goes back; its points earned are cancelled while frozen, or taken from
/// the balance once the order completed (what was spent meanwhile becomes a debt later
/// earnings settle); its share of the points spent on the order returns.
pub async fn on_refund(
    app: &App,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
    amount: Fen,
) -> Result<(), AppError> {
    let o = lookup::order(app.store.as_ref(), order_no).await?;
    let store = app.store.as_ref();
    let m = repo::members::get(store, o.openid()).await?;
    let paid_entry = LedgerSource::Payment(order_no.clone());
    let earned = repo::members::entry(store, o.openid(), &paid_entry).await?.map_or(0, |e| e.frozen);
    // The order's refunds this consumer has taken into account already.
    let mut before = Fen::ZERO;
    for r in repo::refunds::of_order(store, order_no).await? {
        let source = LedgerSource::Refund(r.out_refund_no().clone());
        if r.out_refund_no() != out_refund_no && repo::members::entry(store, o.openid(), &source).await?.is_some() {
            before = before.checked_add(r.amount()).ok_or(domain::DomainError::Overflow)?;
        }
    }
    let after = before.checked_add(amount).ok_or(domain::DomainError::Overflow)?;
    let taken = |refunded: Fen| Taken::of(&o, earned, refunded);
    let (now, then) = (taken(after), taken(before));
    let growth = now.growth - then.growth;
    let earned_share = now.earned - then.earned;
    let back = now.spent - then.spent;
    let completed = o.fulfilment() == domain::order::Fulfilment::Completed;
    let (mut points, frozen) = if completed { (back - earned_share, 0) } else { (back, -earned_share) };
    let mut debt = 0;
    if points < 0 {
        let available = m.points_available;
        if available < -points {
            debt = -points - available;
            points = -available;
        }
    }
    // The points spent come back (less spent); of those earned, what could be taken back.
    let taken_back = if completed { earned_share - debt } else { 0 };
    let flow = PointsFlow { spent: -back, taken_back, ..Default::default() };
    // The entry is written even when nothing moves: it marks this refund as counted.
    // A level the growth no longer reaches is left, and the entry says so.
    let l = ladder(app).await?;
    let (from, to) = (l.standing(&m), l.standing(&Member { growth: m.growth - growth, ..m.clone() }));
    let mut note = format!("退款 {amount}");
    if to.min_growth < from.min_growth {
        note.push_str(&format!("，{} → {}", from.name, to.name));
    }
    let entry = LedgerEntry {
        source: LedgerSource::Refund(out_refund_no.clone()),
        growth: -growth,
        points,
        frozen,
        at: clock::now(),
        note,
    };
    // The month's figures for RFM: the money back, and the order itself once fully refunded.
    let month = month_of(o.paid_at().unwrap_or(entry.at));
    let fully = o.fully_refunded();
    let months = vec![repo::members::month_op(o.openid(), &month, if fully { -1 } else { 0 }, -amount.fen())];
    // The debt moves in the same transaction as the entry, so it is recorded exactly once.
    let also = Also { debt, ..Also::default() };
    match repo::members::apply(store, o.openid(), &entry, flow, also, months).await {
        Ok(_) => Ok(()),
        // Less than the refund's share is held (the payment's credit has not landed, or a
        // spend raced): the outbox retries.
        Err(store::StoreError::Cancelled { .. }) => {
            Err(AppError::new(Code::Conflict, "the member's balance moved; retry"))
        }
        Err(e) => Err(e.into()),
    }
}

/// What an order's refunds coming to `refunded` take back in all: growth and points earned
/// by the goods refunded, and the points spent by the money refunded.
struct Taken {
    growth: i64,
    earned: i64,
    spent: i64,
}

impl Taken {
    fn of(o: &domain::order::Order, earned: i64, refunded: Fen) -> Taken {
        let goods = o.goods_paid();
        let goods_refunded = refunded.min(goods);
        let kept = goods.checked_sub(goods_refunded).unwrap_or(Fen::ZERO);
        Taken {
            growth: growth_for_payment(goods) - growth_for_payment(kept),
            earned: share(earned, goods, goods_refunded),
            spent: share(o.points_used(), o.payable(), refunded),
        }
    }
}

/// The outbox consumer of [`Event::OrderCompleted`]: the order's frozen points (less what
/// refunds cancelled) become available, settling any debt first; once per order.
pub async fn on_completed(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    let o = lookup::order(app.store.as_ref(), order_no).await?;
    let store = app.store.as_ref();
    let paid_entry = LedgerSource::Payment(order_no.clone());
    let earned = repo::members::entry(store, o.openid(), &paid_entry).await?.map_or(0, |e| e.frozen);
    let mut cancelled = 0;
    for r in repo::refunds::of_order(store, order_no).await? {
        if let Some(e) =
            repo::members::entry(store, o.openid(), &LedgerSource::Refund(r.out_refund_no().clone())).await?
        {
            cancelled += e.frozen;
        }
    }
    let left = (earned + cancelled).max(0);
    if left == 0 {
        return Ok(());
    }
    let debt = repo::members::get(store, o.openid()).await?.points_debt;
    let settled = debt.clamp(0, left);
    let entry = LedgerEntry {
        source: LedgerSource::Unfreeze(order_no.clone()),
        growth: 0,
        points: left - settled,
        frozen: -left,
        at: clock::now(),
        note: if settled > 0 { format!("积分解冻（抵还 {settled}）") } else { "积分解冻".into() },
    };
    let also = Also { debt: -settled, ..Also::default() };
    let flow = PointsFlow { earned: left - settled, ..Default::default() };
    repo::members::apply(store, o.openid(), &entry, flow, also, vec![]).await?;
    Ok(())
}

/// What the daily job did.
#[derive(Debug, Default, Serialize)]
pub struct DailyReport {
    pub members: usize,
    pub demoted: usize,
    pub points_expired: i64,
    pub reminders_queued: usize,
    pub birthday_coupons: usize,
    /// Members the job could not finish (a write raced); tomorrow's run tries again.
    pub skipped: usize,
}

/// What the daily job found and did: its report, the segment report, and the birthday coupons
/// due today (member, the template their level gives, and the occasion it is issued once for),
/// which the workflow issues.
pub struct Daily {
    pub report: DailyReport,
    pub segments: serde_json::Value,
    pub birthdays: Vec<(OpenId, TemplateId, String)>,
}

/// The daily job (Asia/Shanghai): every member's RFM segment against the operator's or the
/// population's thresholds and the report of counts; the keep rule's level drops, recorded
/// in the ledger with their reason; points that ran out expire, and reminders are queued for
/// those that will within the notice days; whose birthday coupon is due; the points report by
/// month. Every write is keyed by its day or month, so a rerun changes nothing.
pub async fn daily(app: &App, now: i64) -> Result<Daily, AppError> {
    let store = app.store.as_ref();
    let (rules, l) = (rules(app).await?, ladder(app).await?);
    let first_month = month_of(now - 365 * 86_400);
    // Every member's figures first: quantile thresholds need the whole population.
    let mut members = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = repo::members::page(store, 200, after).await?;
        for (openid, m) in page {
            let (orders, amount) = repo::members::months_since(store, &openid, &first_month).await?;
            let days = m.last_paid_at.map(|at| (now - at).max(0) / 86_400);
            members.push((openid, m, (days, orders, amount)));
        }
        after = next;
        if after.is_none() {
            break;
        }
    }
    let figures: Vec<domain::rfm::Figures> = members.iter().map(|(_, _, f)| *f).collect();
    let t = rules.rfm.thresholds(&figures);
    let mut counts: std::collections::BTreeMap<&'static str, i64> =
        domain::rfm::Segment::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut report = DailyReport { members: members.len(), ..Default::default() };
    let mut by_month: std::collections::BTreeMap<String, PointsFlow> = std::collections::BTreeMap::new();
    let first_report_month = clock::add_months(&month_of(now), -11);
    let mut birthdays = Vec::new();
    for (openid, m, (days, orders, amount)) in &members {
        let seg = domain::rfm::segment(*days, *orders, *amount, &t);
        repo::members::set_segment(store, openid, seg.as_str(), now).await?;
        *counts.entry(seg.as_str()).or_insert(0) += 1;
        let outcome = async {
            report.demoted += usize::from(keep_level(app, &rules, &l, openid, m, now).await?);
            let months = repo::members::points_months(store, openid).await?;
            for (month, f) in months.iter().filter(|(month, _)| *month >= first_report_month) {
                let total = by_month.entry(month.clone()).or_default();
                *total = total.plus(*f);
            }
            let (expired, reminded) = expire_points(app, &rules, openid, m, &months, now).await?;
            report.points_expired += expired;
            report.reminders_queued += usize::from(reminded);
            birthdays.extend(birthday_coupon(&l, openid, m, now));
            Ok::<_, AppError>(())
        }
        .await;
        match outcome {
            Ok(()) => {}
            Err(e) if e.code == Code::Conflict => report.skipped += 1,
            Err(e) => return Err(e),
        }
    }
    let segments = serde_json::json!({
        "scored_at": now,
        "mode": if matches!(rules.rfm, domain::rfm::Mode::Quantile) { "quantile" } else { "fixed" },
        "thresholds": t,
        "segments": domain::rfm::Segment::ALL.iter().map(|s| serde_json::json!({
            "segment": s.as_str(), "label": s.label(), "members": counts[s.as_str()], "high_value": s.high_value(),
        })).collect::<Vec<_>>(),
    });
    repo::members::put_segment_report(store, &segments).await?;
    let months: Vec<serde_json::Value> =
        by_month.iter().map(|(month, f)| serde_json::json!({ "month": month, "flow": f })).collect();
    repo::members::put_points_report(store, &serde_json::json!({ "computed_at": now, "months": months })).await?;
    Ok(Daily { report, segments, birthdays })
}

/// The keep rule for one member: `true` when it took a level now.
async fn keep_level(
    app: &App,
    rules: &Rules,
    l: &Ladder,
    openid: &OpenId,
    m: &Member,
    now: i64,
) -> Result<bool, AppError> {
    let Some(rule) = rules.keep else { return Ok(false) };
    let Some(demoted) = rule.demotion(l, m, now) else { return Ok(false) };
    let to = Member { demoted, ..m.clone() };
    let day = clock::business_day(now).map(|d| d.to_string()).unwrap_or_default();
    let entry = LedgerEntry {
        source: LedgerSource::Keep(day),
        growth: 0,
        points: 0,
        frozen: 0,
        at: now,
        note: format!("保级未达成：{} 天未消费，{} → {}", rule.inactive_days, l.standing(m).name, l.standing(&to).name),
    };
    let also = Also { demoted: Some((demoted, now)), ..Also::default() };
    Ok(repo::members::apply(app.store.as_ref(), openid, &entry, PointsFlow::default(), also, vec![]).await?)
}

/// Points of the months that ran out expire (first in, first out); a reminder is queued once
/// for the points that run out at the end of this month, when that is within the notice days.
async fn expire_points(
    app: &App,
    rules: &Rules,
    openid: &OpenId,
    m: &Member,
    months: &[(String, PointsFlow)],
    now: i64,
) -> Result<(i64, bool), AppError> {
    let store = app.store.as_ref();
    let this_month = month_of(now);
    let keep = i32::try_from(rules.points_expiry_months).unwrap_or(12);
    let ran_out = clock::add_months(&this_month, -(keep + 1));
    let expired = domain::member::expiring(months, &ran_out, m.points_available);
    if expired > 0 {
        let entry = LedgerEntry {
            source: LedgerSource::Expire(ran_out.clone()),
            growth: 0,
            points: -expired,
            frozen: 0,
            at: now,
            note: format!("{ran_out} 获得的积分到期"),
        };
        let flow = PointsFlow { expired, ..Default::default() };
        match repo::members::apply(store, openid, &entry, flow, Also::default(), vec![]).await {
            Ok(_) => {}
            Err(store::StoreError::Cancelled { .. }) => {
                return Err(AppError::new(Code::Conflict, "the member's points moved; expired tomorrow"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let notice = now + i64::from(rules.expiry_notice_days) * 86_400;
    if month_of(notice) == this_month {
        return Ok((expired, false));
    }
    let after: Vec<(String, PointsFlow)> =
        months.iter().cloned().chain([(this_month.clone(), PointsFlow { expired, ..Default::default() })]).collect();
    let soon = domain::member::expiring(&after, &clock::add_months(&this_month, -keep), m.points_available - expired);
    if soon <= 0 {
        return Ok((expired, false));
    }
    // The last day of this month, in Shanghai.
    let expires_on = clock::business_day(now)
        .and_then(|d| d.replace_day(d.month().length(d.year())).ok())
        .map(|d| d.to_string())
        .unwrap_or_default();
    let event = domain::events::Event::PointsExpiring {
        openid: openid.clone(),
        points: soon,
        expires_on: expires_on.clone(),
        reminder: format!("{expires_on}-{}", digest(openid)),
    };
    match store.transact(vec![repo::outbox::append(&event, now)?]).await {
        Ok(()) => {
            app.poke_outbox();
            Ok((expired, true))
        }
        Err(store::StoreError::Cancelled { .. }) | Err(store::StoreError::ConditionFailed) => Ok((expired, false)),
        Err(e) => Err(e.into()),
    }
}

/// A short digest naming a member where a full openid must not show.
fn digest(openid: &OpenId) -> String {
    use sha2::Digest;
    domain::hex(&sha2::Sha256::digest(openid.as_bytes())[..8])
}

/// The birthday coupon of the member's level due today (their birthday, or 28 February for 29
/// February in other years): the member, the template, and the occasion (once a year).
fn birthday_coupon(l: &Ladder, openid: &OpenId, m: &Member, now: i64) -> Option<(OpenId, TemplateId, String)> {
    let (birthday, today) = (m.birthday.as_deref()?, clock::business_day(now)?);
    let template = l.standing(m).perks.birthday_coupon.as_deref()?;
    let leap = time::util::is_leap_year(today.year());
    let mmdd = format!("{:02}-{:02}", u8::from(today.month()), today.day());
    if !(birthday == mmdd || (birthday == "02-29" && !leap && mmdd == "02-28")) {
        return None;
    }
    // The ladder's templates are checked ids (`Ladder::checked`).
    let template = TemplateId::parse(template).ok()?;
    Some((openid.clone(), template, format!("birthday-{}", today.year())))
}

/// The upgrade coupon of the level named `level`, if its perks give one.
pub async fn upgrade_coupon(app: &App, level: &str) -> Result<Option<TemplateId>, AppError> {
    let l = ladder(app).await?;
    let template = l.levels.iter().find(|x| x.name == level).and_then(|x| x.perks.upgrade_coupon.as_deref());
    Ok(template.map(TemplateId::parse).transpose()?)
}

/// Records the shopper's birthday (`mm-dd`), once: it cannot be moved to collect coupons.
pub async fn set_birthday(app: &App, openid: &OpenId, birthday: &str) -> Result<MemberView, AppError> {
    let birthday = domain::member::parse_birthday(birthday)?;
    if !repo::members::set_birthday(app.store.as_ref(), openid, &birthday).await? {
        return Err(AppError::new(Code::Conflict, "the birthday is set already; customer service can correct it"));
    }
    view(app, openid).await
}

/// An operator's grant (or, negative, deduction) of points, once per request id; a deduction
/// never takes the balance below zero.
pub async fn grant(
    app: &App,
    openid: &OpenId,
    request_id: &RequestId,
    points: i64,
    reason: &str,
    by: &Caller,
) -> Result<MemberView, AppError> {
    if points == 0 || points.abs() > 1_000_000 {
        return Err(AppError::field("points", "a grant is 1 to 1,000,000 points, or as many taken away"));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 50 {
        return Err(AppError::field("reason", "a reason of 1 to 50 characters"));
    }
    // Points are money to a shopper: a grant beyond an operator's allowance is finance's, and
    // everyone's grants of a day stop at their daily allowance.
    let allowed = app.rules.allowances;
    let finance = by.role >= Role::Finance;
    if points > allowed.points_grant && !finance {
        return Err(AppError::forbidden(format!(
            "grants above {} points need a finance operator",
            allowed.points_grant
        )));
    }
    let day = clock::business_day(clock::now()).map(|d| d.to_string()).unwrap_or_default();
    let cap = if finance { allowed.points_daily_finance } else { allowed.points_daily };
    let with = if points > 0 { vec![allowances::spend(Power::PointsGrant, &by.id, &day, points, cap)] } else { vec![] };
    let flow = if points > 0 {
        PointsFlow { earned: points, ..Default::default() }
    } else {
        PointsFlow { taken_back: -points, ..Default::default() }
    };
    let entry = LedgerEntry {
        source: LedgerSource::Grant(request_id.clone()),
        growth: 0,
        points,
        frozen: 0,
        at: clock::now(),
        note: format!("{reason}（{}）", by.id),
    };
    match repo::members::apply(app.store.as_ref(), openid, &entry, flow, Also::default(), with).await {
        Ok(_) => view(app, openid).await,
        Err(store::StoreError::Cancelled { .. }) if points > 0 => {
            let used = allowances::used(app.store.as_ref(), Power::PointsGrant, &by.id, &day).await?;
            Err(AppError::new(
                Code::AllowanceExceeded,
                format!("{used} of your {cap} points a day are granted; more needs another day or finance"),
            ))
        }
        Err(store::StoreError::Cancelled { .. }) => {
            Err(AppError::new(Code::InsufficientPoints, "the member holds fewer points than this deduction"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The redemption rate (points spent over points issued) by month and over `from..=to`
/// (`yyyy-mm`; default: the months of the last daily report), with the seed's 7-12% band and
/// an alert when the period is outside it.
pub async fn points_rate(app: &App, from: Option<&str>, to: Option<&str>) -> Result<serde_json::Value, AppError> {
    let report = repo::members::points_report(app.store.as_ref())
        .await?
        .ok_or_else(|| AppError::not_found("points report (the daily job has not run yet)"))?;
    let months = report_months(&report);
    for (name, m) in [("from", from), ("to", to)] {
        // A month is what survives a step forward and back unchanged.
        if m.is_some_and(|m| clock::add_months(m, 1) == m || clock::add_months(&clock::add_months(m, 1), -1) != m) {
            return Err(AppError::field(name, "a month as yyyy-mm"));
        }
    }
    let inside = |m: &str| from.is_none_or(|f| m >= f) && to.is_none_or(|t| m <= t);
    let period = months.iter().filter(|(m, _)| inside(m)).fold(PointsFlow::default(), |a, (_, f)| a.plus(*f));
    let (lo, hi) = domain::member::REDEMPTION_BAND;
    let rate = period.redemption_pct();
    let row = |f: &PointsFlow| {
        serde_json::json!({
            "earned": f.earned, "spent": f.spent, "taken_back": f.taken_back, "expired": f.expired,
            "redemption_pct": f.redemption_pct(),
        })
    };
    Ok(serde_json::json!({
        "computed_at": report["computed_at"],
        "band_pct": [lo, hi],
        "period": { "from": from, "to": to, "points": row(&period),
                    "alert": rate.is_some_and(|r| !(lo..=hi).contains(&r)) },
        "months": months.iter().map(|(m, f)| serde_json::json!({ "month": m, "points": row(f) })).collect::<Vec<_>>(),
    }))
}

/// The redemption rate over every month of the last daily report (what `points_rate`
/// answers by default), in per mille; none before the report or before anything was earned.
pub async fn redemption_permille(app: &App) -> Result<Option<i64>, AppError> {
    let Some(report) = repo::members::points_report(app.store.as_ref()).await? else {
        return Ok(None);
    };
    let total = report_months(&report).iter().fold(PointsFlow::default(), |a, (_, f)| a.plus(*f));
    Ok(total.redemption_permille())
}

fn report_months(report: &serde_json::Value) -> Vec<(String, PointsFlow)> {
    report["months"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    Some((m["month"].as_str()?.to_owned(), serde_json::from_value(m["flow"].clone()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
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
                l.standing(&m).name,
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
pub async fn check_in(app: &App, openid: &OpenId, now: i64) -> Result<CheckedIn, AppError> {
    let day = clock::business_day(now).map(|d| d.to_string()).unwrap_or_default();
    let yesterday = clock::business_day(now - 86_400).map(|d| d.to_string()).unwrap_or_default();
    let m = repo::members::get(app.store.as_ref(), openid).await?;
    if m.last_checkin_day.as_deref() == Some(day.as_str()) {
        return Err(AppError::new(Code::AlreadyCheckedIn, "already checked in today; come back tomorrow"));
    }
    let streak = next_streak(m.last_checkin_day.as_deref(), &yesterday, m.streak);
    let points = rules(app).await?.checkin.points(streak);
    let entry = LedgerEntry {
        source: LedgerSource::CheckIn(day.clone()),
        growth: CHECKIN_GROWTH,
        points,
        frozen: 0,
        at: now,
        note: format!("签到 第{streak}天"),
    };
    let also = Also { checked_in: Some((day.clone(), streak)), ..Also::default() };
    let flow = PointsFlow { earned: points, ..Default::default() };
    if !repo::members::apply(app.store.as_ref(), openid, &entry, flow, also, vec![]).await? {
        return Err(AppError::new(Code::AlreadyCheckedIn, "already checked in today; come back tomorrow"));
    }
    Ok(CheckedIn { day, streak, growth: CHECKIN_GROWTH, points })
}
