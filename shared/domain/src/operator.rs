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
    pub version: i64,
}

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

/// Who must approve a refund of a given amount: anyone who may refund up to `finance_over`,
/// finance alone above it, and two different finance accounts above `two_person_over`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    pub finance_over: Fen,
    pub two_person_over: Fen,
}

impl Default for RefundPolicy {
    /// 500 yuan and 5,000 yuan.
    fn default() -> Self {
        RefundPolicy { finance_over: Fen::new(50_000), two_person_over: Fen::new(500_000) }
    }
}

/// An authenticated operator: who acts, in which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub role: Role,
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
        Approval { operator_id: self.id.clone(), role: self.role, at }
    }
}

/// One approval of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub operator_id: String,
    pub role: Role,
    pub at: i64,
}

/// Where a refund's approvals stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approved {
    /// Enough approvals: the refund may go to WeChat Pay.
    Yes,
    /// One more approval by a different finance account is needed.
    NeedsSecond,
}

impl RefundPolicy {
    /// How many finance approvals `amount` needs (0: any refunding role will do).
    fn finance_needed(&self, amount: Fen) -> usize {
        if amount > self.two_person_over {
            2
        } else if amount > self.finance_over {
            1
        } else {
            0
        }
    }

    /// Adds `by`'s approval to `so_far` for a refund of `amount`, or says why it cannot count:
    /// the role may not refund, or not this much, or this person approved already.
    pub fn approve(
        &self,
        amount: Fen,
        so_far: &[Approval],
        by: Approval,
    ) -> Result<(Vec<Approval>, Approved), DomainError> {
        if !by.role.allows(Permission::Refund) {
            return Err(DomainError::Forbidden { reason: format!("a {} may not approve refunds", by.role.as_str()) });
        }
        let finance = self.finance_needed(amount);
        if finance > 0 && by.role < Role::Finance {
            return Err(DomainError::Forbidden {
                reason: format!("refunds above {} need finance approval", self.finance_over),
            });
        }
        if so_far.iter().any(|a| a.operator_id == by.operator_id) {
            return Err(DomainError::Forbidden {
                reason: "this refund needs a second approver; you approved it already".into(),
            });
        }
        let mut all = so_far.to_vec();
        all.push(by);
        let finance_count = all.iter().filter(|a| a.role == Role::Finance).count();
        Ok((all, if finance_count >= finance { Approved::Yes } else { Approved::NeedsSecond }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(id: &str, role: Role) -> Approval {
        Approval { operator_id: id.into(), role, at: 0 }
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
        let p = RefundPolicy { finance_over: Fen::new(100), two_person_over: Fen::new(1_000) };
        // Small: one operator is enough.
        assert_eq!(p.approve(Fen::new(100), &[], by("a", Role::Operator)).unwrap().1, Approved::Yes);
        // Viewers never approve.
        assert!(p.approve(Fen::new(1), &[], by("v", Role::Viewer)).is_err());
        // Above the first threshold: finance alone.
        assert!(p.approve(Fen::new(101), &[], by("a", Role::Operator)).is_err());
        assert_eq!(p.approve(Fen::new(1_000), &[], by("f", Role::Finance)).unwrap().1, Approved::Yes);
        // Above the second: two different finance accounts.
        let (first, state) = p.approve(Fen::new(1_001), &[], by("f", Role::Finance)).unwrap();
        assert_eq!(state, Approved::NeedsSecond);
        assert!(p.approve(Fen::new(1_001), &first, by("f", Role::Finance)).is_err(), "the same person twice");
        assert!(p.approve(Fen::new(1_001), &first, by("o", Role::Operator)).is_err(), "an operator as second");
        let (both, state) = p.approve(Fen::new(1_001), &first, by("g", Role::Finance)).unwrap();
        assert_eq!((both.len(), state), (2, Approved::Yes));
    }
}
