//! Members: growth value, the level ladder and its perks, the daily check-in. No I/O.
//!
//! Growth: 2 per whole yuan actually paid (after coupons, campaigns and points), credited when
//! a payment is applied and taken back in proportion when money is refunded; +5 for each daily
//! check-in. Every change is a ledger entry keyed by its source, written once.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::{OrderNo, OutRefundNo, RequestId};
use crate::money::Fen;

/// Growth per whole yuan paid.
pub const GROWTH_PER_YUAN: i64 = 2;
/// Growth of one daily check-in.
pub const CHECKIN_GROWTH: i64 = 5;

/// What a level gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perks {
    /// Orders ship free.
    #[serde(default)]
    pub free_shipping: bool,
    /// Percent off listed prices (the member price), 0 to 30.
    #[serde(default)]
    pub member_discount_pct: u8,
    /// Points earned, in percent of the base (100: ×1).
    #[serde(default = "hundred")]
    pub points_multiplier_pct: u16,
    /// A coupon template issued once when a member first reaches the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_coupon: Option<String>,
    /// A coupon template issued on the member's birthday, once a year, at this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday_coupon: Option<String>,
}

fn hundred() -> u16 {
    100
}

impl Default for Perks {
    /// No perk: freight as usual, list prices, ×1 points.
    fn default() -> Self {
        Perks {
            free_shipping: false,
            member_discount_pct: 0,
            points_multiplier_pct: 100,
            upgrade_coupon: None,
            birthday_coupon: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    pub min_growth: i64,
    #[serde(default)]
    pub perks: Perks,
}

/// The operator's ladder, lowest first; the first level starts at 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub levels: Vec<Level>,
}

impl Default for Ladder {
    /// 普通 0, 白银 1,000, 黄金 5,000 (free shipping), 钻石 20,000 (free shipping, 5% off, ×1.5
    /// points).
    fn default() -> Self {
        let level = |name: &str, min: i64, free: bool, pct: u8, mult: u16| Level {
            name: name.into(),
            min_growth: min,
            perks: Perks {
                free_shipping: free,
                member_discount_pct: pct,
                points_multiplier_pct: mult,
                ..Perks::default()
            },
        };
        Ladder {
            levels: vec![
                level("普通", 0, false, 0, 100),
                level("白银", 1_000, false, 0, 100),
                level("黄金", 5_000, true, 0, 120),
                level("钻石", 20_000, true, 5, 150),
            ],
        }
    }
}

impl Ladder {
    pub fn checked(self) -> Result<Ladder, DomainError> {
        if self.levels.is_empty() || self.levels.len() > 10 {
            return Err(DomainError::invalid("levels", "1 to 10 levels"));
        }
        if self.levels[0].min_growth != 0 {
            return Err(DomainError::invalid("levels", "the first level starts at 0 growth"));
        }
        for w in self.levels.windows(2) {
            if w[1].min_growth <= w[0].min_growth {
                return Err(DomainError::invalid("levels", "thresholds rise from level to level"));
            }
        }
        for l in &self.levels {
            if l.name.trim().is_empty() || l.name.chars().count() > 10 {
                return Err(DomainError::invalid("levels", "names are 1 to 10 characters"));
            }
            if l.perks.member_discount_pct > 30 || !(100..=500).contains(&l.perks.points_multiplier_pct) {
                return Err(DomainError::invalid("perks", "member discount 0 to 30%, points multiplier 100 to 500%"));
            }
            for t in [&l.perks.upgrade_coupon, &l.perks.birthday_coupon].into_iter().flatten() {
                crate::ids::CatalogId::parse(t)?;
            }
        }
        Ok(self)
    }

    /// The level `growth` reaches.
    pub fn level_for(&self, growth: i64) -> &Level {
        &self.levels[self.index_for(growth)]
    }

    /// The index of the level `growth` reaches.
    pub fn index_for(&self, growth: i64) -> usize {
        self.levels.iter().rposition(|l| growth >= l.min_growth).unwrap_or(0)
    }

    /// Where a member stands: the level of their growth, less the levels the keep rule took
    /// (never below the first).
    pub fn standing(&self, m: &Member) -> &Level {
        &self.levels[self.index_for(m.growth).saturating_sub(usize::from(m.demoted))]
    }
}

/// The rule that keeps a level: a member who has not paid for `inactive_days` drops
/// `drop_levels` levels (once per such stretch); the next payment restores the level their
/// growth reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepRule {
    pub inactive_days: i64,
    pub drop_levels: u8,
}

impl KeepRule {
    /// How many levels a member stands below their growth's level after today's check, or
    /// `None` when nothing changes. The stretch counts from the last payment or the last
    /// drop, whichever is later; a member who never paid holds what check-ins earned.
    pub fn demotion(&self, ladder: &Ladder, m: &Member, now: i64) -> Option<u8> {
        let since = m.last_paid_at.max(m.demoted_at)?;
        let room = ladder.index_for(m.growth).saturating_sub(usize::from(m.demoted));
        if room == 0 || now - since < self.inactive_days * 86_400 {
            return None;
        }
        let drop = usize::from(self.drop_levels).min(room);
        u8::try_from(usize::from(m.demoted) + drop).ok()
    }
}

/// The member program's rules operators set beside the ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub checkin: CheckinRewards,
    /// The level keep rule; none: levels follow growth only.
    #[serde(default)]
    pub keep: Option<KeepRule>,
    #[serde(default)]
    pub rfm: crate::rfm::Mode,
    /// Points expire at the end of this many months after the month they became available.
    #[serde(default = "twelve")]
    pub points_expiry_months: u32,
    /// The reminder goes this many days before points expire.
    #[serde(default = "seven")]
    pub expiry_notice_days: u32,
}

fn twelve() -> u32 {
    12
}

fn seven() -> u32 {
    7
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            checkin: CheckinRewards::default(),
            keep: None,
            rfm: crate::rfm::Mode::default(),
            points_expiry_months: 12,
            expiry_notice_days: 7,
        }
    }
}

impl Rules {
    pub fn checked(self) -> Result<Rules, DomainError> {
        if self.checkin.daily_points < 0
            || self.checkin.daily_points > 1_000
            || self
                .checkin
                .streak_bonus
                .iter()
                .any(|(every, p)| *every == 0 || *every > 365 || !(0..=10_000).contains(p))
        {
            return Err(DomainError::invalid(
                "checkin",
                "daily points 0 to 1,000; streak bonuses every 1 to 365 days, 0 to 10,000 points",
            ));
        }
        if let Some(k) = self.keep
            && (!(30..=730).contains(&k.inactive_days) || !(1..=9).contains(&k.drop_levels))
        {
            return Err(DomainError::invalid("keep", "inactive_days 30 to 730, drop_levels 1 to 9"));
        }
        if !(1..=36).contains(&self.points_expiry_months) || !(1..=30).contains(&self.expiry_notice_days) {
            return Err(DomainError::invalid(
                "points_expiry_months",
                "expiry after 1 to 36 months, notice 1 to 30 days before",
            ));
        }
        if let crate::rfm::Mode::Fixed(t) = self.rfm {
            t.checked()?;
        }
        Ok(self)
    }
}

/// Growth for `paid` fen: 2 per whole yuan.
pub fn growth_for_payment(paid: Fen) -> i64 {
    (paid.fen() / 100).max(0) * GROWTH_PER_YUAN
}

/// A member's standing, kept beside the shopper's profile. Counters move by conditional
/// additions, never by rewriting a read value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub growth: i64,
    #[serde(default)]
    pub points_available: i64,
    #[serde(default)]
    pub points_frozen: i64,
    /// Points a refund could not take back (they were spent): later earnings settle it.
    #[serde(default)]
    pub points_debt: i64,
    #[serde(default)]
    pub last_checkin_day: Option<String>,
    #[serde(default)]
    pub streak: u32,
    /// The last payment, for recency.
    #[serde(default)]
    pub last_paid_at: Option<i64>,
    /// The RFM segment the daily scoring gave (`domain::rfm::Segment::as_str`).
    #[serde(default)]
    pub segment: Option<String>,
    /// Levels the keep rule took (the next payment gives them back).
    #[serde(default)]
    pub demoted: u8,
    #[serde(default)]
    pub demoted_at: Option<i64>,
    /// `mm-dd`, set once by the shopper, for the birthday coupon.
    #[serde(default)]
    pub birthday: Option<String>,
}

/// A birthday as `mm-dd`, a day some year has (29 February included).
pub fn parse_birthday(s: &str) -> Result<String, DomainError> {
    let bad = || DomainError::invalid("birthday", "a day of the year as mm-dd, e.g. 03-15");
    let (m, d) = s.split_once('-').ok_or_else(bad)?;
    let (m, d): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    if s.len() != 5 || d == 0 || d > month.length(2024) {
        return Err(bad());
    }
    Ok(format!("{m:02}-{d:02}"))
}

/// Points that moved in one month, by why (a member's or the shop's): what the
/// redemption rate and the first-in-first-out expiry read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PointsFlow {
    /// Became available (unfrozen, check-ins, grants).
    #[serde(default)]
    pub earned: i64,
    /// Spent at checkout, less what came back when orders closed or were refunded.
    #[serde(default)]
    pub spent: i64,
    /// Taken back by refunds after they became available, and operators' deductions.
    #[serde(default)]
    pub taken_back: i64,
    #[serde(default)]
    pub expired: i64,
}

impl PointsFlow {
    /// The change of the available balance.
    pub fn net(&self) -> i64 {
        self.earned - self.spent - self.taken_back - self.expired
    }

    pub fn plus(self, o: PointsFlow) -> PointsFlow {
        PointsFlow {
            earned: self.earned + o.earned,
            spent: self.spent + o.spent,
            taken_back: self.taken_back + o.taken_back,
            expired: self.expired + o.expired,
        }
    }

    /// Spent over earned, in percent with one decimal (none before anything was earned).
    pub fn redemption_pct(&self) -> Option<f64> {
        self.redemption_permille().map(|p| p as f64 / 10.0)
    }

    /// Spent over earned, in per mille, rounded down.
    pub fn redemption_permille(&self) -> Option<i64> {
        (self.earned > 0).then(|| self.spent * 1_000 / self.earned)
    }
}

/// The seed's band for the redemption rate, in percent.
pub const REDEMPTION_BAND: (f64, f64) = (7.0, 12.0);

/// Points that expire when the months up to `last_expiring` (inclusive) run out, first in
/// first out: what those months earned less everything used so far, within the balance.
/// `months` holds each month's flow as (`yyyy-mm`, flow).
pub fn expiring(months: &[(String, PointsFlow)], last_expiring: &str, available: i64) -> i64 {
    let earned: i64 = months.iter().filter(|(m, _)| m.as_str() <= last_expiring).map(|(_, f)| f.earned).sum();
    let used: i64 = months.iter().map(|(_, f)| f.spent + f.taken_back + f.expired).sum();
    (earned - used).clamp(0, available.max(0))
}

/// What changed a member's growth or points; the ledger keeps one entry per source, so a
/// replayed change finds its entry there. Stored as `<kind>-<what>` (`pay-<order_no>`,
/// `refund-<out_refund_no>`, `checkin-<day>`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LedgerSource {
    /// A payment of the order: its growth and its points, frozen until the order completes.
    Payment(OrderNo),
    /// A completed refund: its share of what the payment brought goes back.
    Refund(OutRefundNo),
    /// Points paid with when the order was placed.
    Spend(OrderNo),
    /// Points paid with, back when the order closed unpaid.
    Return(OrderNo),
    /// The order completed: its frozen points become available.
    Unfreeze(OrderNo),
    /// The daily check-in of a Shanghai day (`yyyy-mm-dd`).
    CheckIn(String),
    /// The keep rule's drop on a Shanghai day (`yyyy-mm-dd`).
    Keep(String),
    /// Points of a month (`yyyy-mm`) that ran out.
    Expire(String),
    /// An operator's grant or deduction, once per request.
    Grant(RequestId),
}

impl LedgerSource {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            LedgerSource::Payment(n) => ("pay", n),
            LedgerSource::Refund(r) => ("refund", r),
            LedgerSource::Spend(n) => ("spend", n),
            LedgerSource::Return(n) => ("return", n),
            LedgerSource::Unfreeze(n) => ("unfreeze", n),
            LedgerSource::CheckIn(day) => ("checkin", day),
            LedgerSource::Keep(day) => ("keep", day),
            LedgerSource::Expire(month) => ("expire", month),
            LedgerSource::Grant(r) => ("grant", r),
        }
    }
}

impl std::fmt::Display for LedgerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, what) = self.parts();
        write!(f, "{kind}-{what}")
    }
}

impl std::str::FromStr for LedgerSource {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<LedgerSource, DomainError> {
        let bad = || DomainError::invalid("source", format!("not a ledger source: {s}"));
        let (kind, what) = s.split_once('-').ok_or_else(bad)?;
        let date = |len: usize| {
            let ok = what.len() == len && what.bytes().all(|b| b.is_ascii_digit() || b == b'-');
            if ok { Ok(what.to_owned()) } else { Err(bad()) }
        };
        Ok(match kind {
            "pay" => LedgerSource::Payment(OrderNo::parse(what)?),
            "refund" => LedgerSource::Refund(OutRefundNo::parse(what)?),
            "spend" => LedgerSource::Spend(OrderNo::parse(what)?),
            "return" => LedgerSource::Return(OrderNo::parse(what)?),
            "unfreeze" => LedgerSource::Unfreeze(OrderNo::parse(what)?),
            "checkin" => LedgerSource::CheckIn(date(10)?),
            "keep" => LedgerSource::Keep(date(10)?),
            "expire" => LedgerSource::Expire(date(7)?),
            "grant" => LedgerSource::Grant(RequestId::parse(what)?),
            _ => return Err(bad()),
        })
    }
}

impl TryFrom<String> for LedgerSource {
    type Error = DomainError;
    fn try_from(s: String) -> Result<LedgerSource, DomainError> {
        s.parse()
    }
}

impl From<LedgerSource> for String {
    fn from(s: LedgerSource) -> String {
        s.to_string()
    }
}

/// What else a ledger entry moves on the member, beyond growth and points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Also {
    /// A payment at this time: recency for RFM, and the end of any stretch the keep rule
    /// counted (the levels it took come back).
    pub paid_at: Option<i64>,
    /// Points a refund could not take back (positive), or what later earnings settled of them
    /// (negative).
    pub debt: i64,
    /// The keep rule took levels: how many stand taken now, and when.
    pub demoted: Option<(u8, i64)>,
    /// A check-in on this Shanghai day (`yyyy-mm-dd`), with the streak it makes.
    pub checked_in: Option<(String, u32)>,
    /// The growth a level change was decided on: the entry is refused when the growth moved
    /// meanwhile, so two payments landing at once announce one level-up, not two.
    pub growth_was: Option<i64>,
}

/// One change of a member's growth or points, keyed by its source so it is written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub source: LedgerSource,
    pub growth: i64,
    /// Change of the available points.
    pub points: i64,
    /// Change of the frozen points (earned on an order whose refund window is open).
    #[serde(default)]
    pub frozen: i64,
    pub at: i64,
    pub note: String,
}

/// Points earned by `goods_paid` at a level's multiplier: 1 a whole yuan, times the multiplier.
pub fn points_for_payment(goods_paid: Fen, multiplier_pct: u16) -> i64 {
    (goods_paid.fen() / 100).max(0) * i64::from(multiplier_pct) / 100
}

/// The part of `total` that a refund of `refunded` out of `paid` stands for, rounded down, so
/// refunds of a payment never take back more than it brought.
pub fn share(total: i64, paid: Fen, refunded: Fen) -> i64 {
    if paid.fen() <= 0 || total <= 0 {
        return 0;
    }
    i64::try_from(i128::from(total) * i128::from(refunded.fen().clamp(0, paid.fen())) / i128::from(paid.fen()))
        .unwrap_or(0)
}

/// Check-in rewards: points every day, and extra points on streak days (e.g. every 7th).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRewards {
    pub daily_points: i64,
    /// (streak length, extra points): paid when the streak reaches a multiple of the length.
    #[serde(default)]
    pub streak_bonus: Vec<(u32, i64)>,
}

impl Default for CheckinRewards {
    fn default() -> Self {
        CheckinRewards { daily_points: 5, streak_bonus: vec![(7, 20)] }
    }
}

impl CheckinRewards {
    /// Points for a check-in that makes the streak `streak` days long.
    pub fn points(&self, streak: u32) -> i64 {
        let bonus: i64 = self
            .streak_bonus
            .iter()
            .filter(|(every, _)| *every > 0 && streak.is_multiple_of(*every))
            .map(|(_, p)| *p)
            .sum();
        self.daily_points + bonus
    }
}

/// The streak after checking in on `today`, given the last check-in day and streak
/// (days as `yyyy-mm-dd` strings of consecutive Shanghai dates).
pub fn next_streak(last_day: Option<&str>, yesterday: &str, streak: u32) -> u32 {
    if last_day == Some(yesterday) { streak.saturating_add(1) } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_expire_first_in_first_out() {
        let f = |earned, spent| PointsFlow { earned, spent, ..Default::default() };
        let months = vec![
            ("2025-01".to_string(), f(300, 0)),
            ("2025-02".to_string(), f(200, 100)),
            ("2025-03".to_string(), f(0, 50)),
        ];
        // 150 of January's 300 were spent (oldest first): 150 expire with January.
        assert_eq!(expiring(&months, "2025-01", 350), 150);
        assert_eq!(expiring(&months, "2025-02", 350), 350);
        assert_eq!(expiring(&months, "2024-12", 350), 0);
        assert_eq!(expiring(&months, "2025-02", 100), 100, "never more than the balance");
        let expired =
            vec![("2025-01".to_string(), f(300, 0)), ("2025-02".to_string(), PointsFlow { expired: 300, ..f(0, 0) })];
        assert_eq!(expiring(&expired, "2025-01", 0), 0, "expired once");
        assert_eq!(f(1_000, 95).redemption_pct(), Some(9.5));
        assert_eq!(f(0, 5).redemption_pct(), None);
    }

    #[test]
    fn the_keep_rule_drops_idle_members() {
        let ladder = Ladder::default();
        let day = 86_400;
        let rule = KeepRule { inactive_days: 365, drop_levels: 1 };
        let mut m = Member { growth: 6_000, last_paid_at: Some(0), ..Default::default() };
        assert_eq!(ladder.standing(&m).name, "黄金");
        assert_eq!(rule.demotion(&ladder, &m, 364 * day), None);
        assert_eq!(rule.demotion(&ladder, &m, 365 * day), Some(1));
        m.demoted = 1;
        m.demoted_at = Some(365 * day);
        assert_eq!(ladder.standing(&m).name, "白银");
        assert_eq!(rule.demotion(&ladder, &m, 400 * day), None, "once per stretch");
        assert_eq!(rule.demotion(&ladder, &m, 730 * day), Some(2));
        m.demoted = 2;
        assert_eq!(ladder.standing(&m).name, "普通");
        assert_eq!(rule.demotion(&ladder, &m, 5_000 * day), None, "nothing below the first level");
        let never_paid = Member { growth: 1_500, ..Default::default() };
        assert_eq!(rule.demotion(&ladder, &never_paid, 5_000 * day), None);
    }

    #[test]
    fn birthdays_are_days_of_the_year() {
        assert_eq!(parse_birthday("02-29").unwrap(), "02-29");
        for bad in ["2-29", "02-30", "13-01", "00-10", "12-32", "1231", "ab-cd"] {
            assert!(parse_birthday(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn growth_follows_money() {
        assert_eq!(growth_for_payment(Fen::new(12_399)), 246, "123 whole yuan");
        assert_eq!(growth_for_payment(Fen::new(99)), 0);
        assert_eq!(share(growth_for_payment(Fen::new(10_000)), Fen::new(10_000), Fen::new(5_000)), 100);
        assert_eq!(
            share(growth_for_payment(Fen::new(10_000)), Fen::new(10_000), Fen::new(20_000)),
            200,
            "never more than earned"
        );
        let parts = share(growth_for_payment(Fen::new(10_001)), Fen::new(10_001), Fen::new(3_333)) * 3;
        assert!(parts <= growth_for_payment(Fen::new(10_001)));
    }

    #[test]
    fn the_ladder_places_growth() {
        let l = Ladder::default();
        assert_eq!(l.level_for(0).name, "普通");
        assert_eq!(l.level_for(4_999).name, "白银");
        assert_eq!(l.level_for(5_000).name, "黄金");
        assert!(l.level_for(5_000).perks.free_shipping);
        assert_eq!(l.level_for(1_000_000).name, "钻石");
        let mut bad = Ladder::default();
        bad.levels[2].min_growth = 500;
        assert!(bad.checked().is_err(), "thresholds must rise");
        let mut first = Ladder::default();
        first.levels[0].min_growth = 1;
        assert!(first.checked().is_err());
        assert!(Ladder::default().checked().is_ok());
    }

    #[test]
    fn streaks_and_their_rewards() {
        assert_eq!(next_streak(Some("2026-12-01"), "2026-12-01", 6), 7);
        assert_eq!(next_streak(Some("2026-11-29"), "2026-12-01", 6), 1, "a missed day starts over");
        assert_eq!(next_streak(None, "2026-12-01", 0), 1);
        let r = CheckinRewards::default();
        assert_eq!((r.points(6), r.points(7), r.points(14)), (5, 25, 25));
    }

    #[test]
    fn ledger_sources_round_trip_as_their_stored_names() {
        for s in
            ["pay-20261201000000123456", "refund-R2026-req|1", "checkin-2026-12-01", "expire-2025-01", "grant-req00001"]
        {
            let parsed: LedgerSource = s.parse().unwrap();
            assert_eq!(parsed.to_string(), s);
        }
        for bad in ["pay", "seed", "pay-", "checkin-2026-1-1", "expire-2025-01-01", "bonus-x1234567"] {
            assert!(bad.parse::<LedgerSource>().is_err(), "{bad}");
        }
    }
}
