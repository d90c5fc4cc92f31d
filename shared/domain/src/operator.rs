//! Operators: their roles, what each role may do, and who must approve a refund. No I/O.
//!
//! Roles are ordered: a viewer reads; an operator also runs the shop (catalog, coupons,
//! shipping, refusing or starting small refunds, jobs); finance also moves money (refunds
//! above the finance threshold, reconciliation) and manages operator accounts.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::money::Fen;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Finance,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Finance];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Finance => "finance",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `needed` names.
    pub fn allows(self, needed: Permission) -> bool {
        self >= needed.least_role()
    }
}

/// An operator's account. The token itself is shown once, when the account is made; only its
/// SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub token_sha256: String,
    pub created_at: i64,
    /// The account that made this one (`bootstrap` for the first).
    pub created_by: String,
    #[serde(default)]
    pub disabled: bool,
    /// The WeChat identity the account's holder bound at first sign-in: the SHA-256 (hex) of
    /// their openid under the shop's mini-program. One identity binds one account, so two
    /// approvals from two bound accounts come from two WeChat accounts.
    #[serde(default)]
    pub identity: Option<String>,
    /// The holder's openid as last confirmed with a fresh `wx.login` code, and until when
    /// WeChat's content checks accept it (they take only an openid that used the
    /// mini-program within two hours): kept for that window only, for those checks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_openid: Option<RecentOpenid>,
    /// A finance account waiting for another finance person's approval: it cannot sign in
    /// until then.
    #[serde(default)]
    pub pending: bool,
    pub version: i64,
}

/// An openid and the end of the window it may be used in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentOpenid {
    pub openid: String,
    pub until: i64,
}

/// WeChat's content checks take an openid that used the mini-program in the last two hours.
pub const RECENT_OPENID_SECS: i64 = 2 * 3600;

/// An operator id: 3 to 32 lower-case letters, digits, `-` or `_`, starting with a letter
/// (it is also the first part of the account's token).
pub fn check_id(id: &str) -> Result<(), DomainError> {
    let ok = (3..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid("id", "3 to 32 lower-case letters, digits, '-' or '_', starting with a letter"))
    }
}

/// What an operator route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Lists and reports.
    Read,
    /// Running the shop: catalog, stock, coupons, shipping, refusing refunds, jobs.
    Manage,
    /// Approving refunds (within the role's limit, see [`RefundPolicy`]) or starting them.
    Refund,
    /// Reconciliation against WeChat Pay's bill.
    Finance,
    /// Creating and disabling operator accounts.
    Accounts,
}

impl Permission {
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Manage | Permission::Refund => Role::Operator,
            Permission::Finance | Permission::Accounts => Role::Finance,
        }
    }
}

/// Who must approve a refund. What counts is what the order's refunds come to with this one
/// (so a large refund split into small ones needs what the whole needs): any refunding role up
/// to `finance_over`, finance alone above it, and two finance people with two different bound
/// WeChat identities above `two_person_over`. Beside the order, a shopper refunded more than
/// `shopper_daily` in a Shanghai day needs finance for the next refund, and an operator may
/// start at most `operator_daily` of refunds a day on their own approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    pub finance_over: Fen,
    pub two_person_over: Fen,
    pub shopper_daily: Fen,
    pub operator_daily: Fen,
}

impl Default for RefundPolicy {
    /// 500 yuan, 5,000 yuan, 1,000 yuan a shopper a day, 2,000 yuan an operator a day.
    fn default() -> Self {
        RefundPolicy {
            finance_over: Fen::new(50_000),
            two_person_over: Fen::new(500_000),
            shopper_daily: Fen::new(100_000),
            operator_daily: Fen::new(200_000),
        }
    }
}

/// What a refund comes to, for deciding who approves it: the order's refunds with it, the
/// shopper's refunds today with it, and what the approver has started today without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub amount: Fen,
    pub order_total: Fen,
    pub shopper_today: Fen,
    pub approver_today: Fen,
}

/// An authenticated operator: who acts, in which role, as which bound WeChat identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub role: Role,
    pub identity: Option<String>,
    /// The caller's openid while it is recent enough for WeChat's content checks.
    pub recent_openid: Option<String>,
}

impl Caller {
    /// Whether the caller's role allows `needed`; else why not, naming the role needed.
    pub fn may(&self, needed: Permission) -> Result<(), DomainError> {
        if self.role.allows(needed) {
            return Ok(());
        }
        Err(DomainError::Forbidden {
            reason: format!("this needs the {} role; you are {}", needed.least_role().as_str(), self.role.as_str()),
        })
    }

    /// The caller's approval, given at `at`.
    pub fn approval(&self, at: i64) -> Approval {
        Approval { operator_id: self.id.clone(), role: self.role, at, identity: self.identity.clone() }
    }
}

/// One approval of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub operator_id: String,
    pub role: Role,
    pub at: i64,
    /// The approver's bound WeChat identity (a digest), when they had bound one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// Where a refund's approvals stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approved {
    /// Enough approvals: the refund may go to WeChat Pay.
    Yes,
    /// One more approval by a different finance person is needed.
    NeedsSecond,
}

impl RefundPolicy {
    /// How many finance people a refund with this exposure needs (0: any refunding role).
    pub fn finance_needed(&self, e: &Exposure) -> usize {
        if e.order_total > self.two_person_over {
            2
        } else if e.order_total > self.finance_over || e.shopper_today > self.shopper_daily {
            1
        } else {
            0
        }
    }

    /// Adds `by`'s approval to `so_far` (the approvals that still count) for a refund with
    /// this exposure, or says why it cannot count: the role may not refund, or not this much
    /// (on the order, for the shopper today, or for this operator today), or this person (or
    /// their WeChat identity) approved already, or a two-person approval from an account with
    /// no bound identity.
    pub fn approve(
        &self,
        e: &Exposure,
        so_far: &[Approval],
        by: Approval,
    ) -> Result<(Vec<Approval>, Approved), DomainError> {
        if !by.role.allows(Permission::Refund) {
            return Err(DomainError::Forbidden { reason: format!("a {} may not approve refunds", by.role.as_str()) });
        }
        let finance = self.finance_needed(e);
        if finance > 0 && by.role < Role::Finance {
            let reason = if e.order_total > self.finance_over {
                format!("refunds of an order above {} need finance approval", self.finance_over)
            } else {
                format!("refunds to one shopper above {} a day need finance approval", self.shopper_daily)
            };
            return Err(DomainError::Forbidden { reason });
        }
        let started_today = e.approver_today.checked_add(e.amount).ok_or(DomainError::Overflow)?;
        if by.role < Role::Finance && started_today > self.operator_daily {
            return Err(DomainError::Forbidden {
                reason: format!("above your {} of refunds a day: finance approves this one", self.operator_daily),
            });
        }
        if so_far.iter().any(|a| a.operator_id == by.operator_id) {
            return Err(DomainError::Forbidden {
                reason: "this refund needs a second approver; you approved it already".into(),
            });
        }
        if finance == 2 {
            let Some(identity) = &by.identity else {
                return Err(DomainError::Forbidden {
                    reason: "bind your WeChat identity before taking part in a two-person approval".into(),
                });
            };
            if so_far.iter().any(|a| a.identity.as_ref() == Some(identity)) {
                return Err(DomainError::Forbidden {
                    reason: "another account of the same WeChat identity approved this refund".into(),
                });
            }
        }
        let mut all = so_far.to_vec();
        all.push(by);
        let people: std::collections::BTreeSet<&str> = all
            .iter()
            .filter(|a| a.role == Role::Finance)
            .filter_map(|a| if finance == 2 { a.identity.as_deref() } else { Some(a.operator_id.as_str()) })
            .collect();
        Ok((all.clone(), if people.len() >= finance { Approved::Yes } else { Approved::NeedsSecond }))
    }
}

/// Powers worth money beside refunds, and how far an operator may use each alone: larger
/// uses, and more than the daily allowance, need a finance operator (who has daily limits of
/// their own). Points are counted in points, the rest in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowances {
    /// Points one grant by an operator may give (or take away).
    pub points_grant: i64,
    /// Points an operator may grant in a Shanghai day; `points_daily_finance` for finance.
    pub points_daily: i64,
    pub points_daily_finance: i64,
    /// What a coupon template an operator makes may cost at most: its largest discount times
    /// how many may be claimed.
    pub coupon_exposure: Fen,
    /// What one stock write-off by an operator may remove (units times price), and all of an
    /// operator's write-offs of a day.
    pub write_off: Fen,
    pub write_off_daily: Fen,
}

impl Default for Allowances {
    /// 1,000 points a grant and 5,000 a day (50 yuan) for operators, 100,000 a day for finance;
    /// coupon templates up to 5,000 yuan; write-offs of 500 yuan each, 2,000 yuan a day.
    fn default() -> Self {
        Allowances {
            points_grant: 1_000,
            points_daily: 5_000,
            points_daily_finance: 100_000,
            coupon_exposure: Fen::new(500_000),
            write_off: Fen::new(50_000),
            write_off_daily: Fen::new(200_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(id: &str, role: Role) -> Approval {
        Approval { operator_id: id.into(), role, at: 0, identity: Some(format!("person-{id}")) }
    }

    fn order(amount: i64, order_total: i64) -> Exposure {
        Exposure {
            amount: Fen::new(amount),
            order_total: Fen::new(order_total),
            shopper_today: Fen::new(amount),
            approver_today: Fen::ZERO,
        }
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Operator, [true, true, true, false, false]),
            (Role::Finance, [true, true, true, true, true]),
        ];
        for (role, expect) in table {
            let got = [Read, Manage, Refund, Finance, Accounts].map(|p| role.allows(p));
            assert_eq!(got, expect, "{role:?}");
        }
        for id in ["ab", "Alice", "1ab", "a b", "ali.ce", &"a".repeat(33)] {
            assert!(check_id(id).is_err(), "{id}");
        }
        for id in ["ann", "finance-1", "li_lei"] {
            assert!(check_id(id).is_ok(), "{id}");
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn refund_approvals_follow_the_thresholds() {
        let p = RefundPolicy {
            finance_over: Fen::new(100),
            two_person_over: Fen::new(1_000),
            shopper_daily: Fen::new(5_000),
            operator_daily: Fen::new(5_000),
        };
        let small = order(100, 100);
        // Small: one operator is enough.
        assert_eq!(p.approve(&small, &[], by("a", Role::Operator)).unwrap().1, Approved::Yes);
        // Viewers never approve.
        assert!(p.approve(&order(1, 1), &[], by("v", Role::Viewer)).is_err());
        // Above the first threshold: finance alone.
        assert!(p.approve(&order(101, 101), &[], by("a", Role::Operator)).is_err());
        assert_eq!(p.approve(&order(1_000, 1_000), &[], by("f", Role::Finance)).unwrap().1, Approved::Yes);
        // Above the second: two different finance people.
        let big = order(1_001, 1_001);
        let (first, state) = p.approve(&big, &[], by("f", Role::Finance)).unwrap();
        assert_eq!(state, Approved::NeedsSecond);
        assert!(p.approve(&big, &first, by("f", Role::Finance)).is_err(), "the same person twice");
        assert!(p.approve(&big, &first, by("o", Role::Operator)).is_err(), "an operator as second");
        let (both, state) = p.approve(&big, &first, by("g", Role::Finance)).unwrap();
        assert_eq!((both.len(), state), (2, Approved::Yes));
    }

    /// Split refunds, second accounts and busy operators reach the approvals the whole needs.
    #[test]
    fn what_the_whole_needs_decides() {
        let p = RefundPolicy {
            finance_over: Fen::new(1_000),
            two_person_over: Fen::new(2_000),
            shopper_daily: Fen::new(3_000),
            operator_daily: Fen::new(1_500),
        };
        // The order's refunds so far count: a small second refund of a large order needs finance.
        assert!(p.approve(&order(500, 1_200), &[], by("a", Role::Operator)).is_err());
        assert_eq!(p.finance_needed(&order(500, 2_100)), 2);
        // The shopper's refunds of the day count, over all their orders.
        let busy_shopper = Exposure { shopper_today: Fen::new(3_100), ..order(100, 100) };
        assert!(p.approve(&busy_shopper, &[], by("a", Role::Operator)).is_err());
        assert_eq!(p.approve(&busy_shopper, &[], by("f", Role::Finance)).unwrap().1, Approved::Yes);
        // The operator's refunds of the day count, over all orders.
        let busy_operator = Exposure { approver_today: Fen::new(1_400), ..order(200, 200) };
        assert!(p.approve(&busy_operator, &[], by("a", Role::Operator)).is_err());
        assert_eq!(p.approve(&busy_operator, &[], by("f", Role::Finance)).unwrap().1, Approved::Yes);
        // Two finance accounts of one WeChat identity are one person; an unbound one is none.
        let big = order(2_500, 2_500);
        let (first, _) = p.approve(&big, &[], by("f", Role::Finance)).unwrap();
        let twin = Approval { identity: Some("person-f".into()), ..by("f2", Role::Finance) };
        assert!(p.approve(&big, &first, twin).is_err(), "a second account of the same person");
        let unbound = Approval { identity: None, ..by("g", Role::Finance) };
        assert!(p.approve(&big, &first, unbound).is_err(), "no bound identity");
    }
}
