//! Conditions and updates, with the one evaluation the embedded store uses. The DynamoDB
//! adapter renders the same values into expressions; the contract tests hold the two equal.

use serde_json::Value;

use super::{Item, StoreError, table};

/// A condition on the item as it is before the write. An absent attribute compares false
/// (as in DynamoDB), so `Ge("stock", 1)` on a missing item fails.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Exists,
    NotExists,
    Eq(String, Value),
    /// The attribute equals one of the values (a state machine's allowed source states).
    In(String, Vec<Value>),
    Ge(String, i64),
    Le(String, i64),
    /// The attribute is absent.
    Missing(String),
    And(Vec<Cond>),
    /// Any of them holds (none given: never).
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eq(attr: &str, v: impl Into<Value>) -> Self {
        Cond::Eq(attr.into(), v.into())
    }

    pub fn ge(attr: &str, n: i64) -> Self {
        Cond::Ge(attr.into(), n)
    }

    pub fn le(attr: &str, n: i64) -> Self {
        Cond::Le(attr.into(), n)
    }

    pub fn one_of(attr: &str, vs: impl IntoIterator<Item = impl Into<Value>>) -> Self {
        Cond::In(attr.into(), vs.into_iter().map(Into::into).collect())
    }

    pub fn and(self, other: Cond) -> Self {
        match self {
            Cond::And(mut v) => {
                v.push(other);
                Cond::And(v)
            }
            c => Cond::And(vec![c, other]),
        }
    }

    pub fn or(self, other: Cond) -> Self {
        match self {
            Cond::Or(mut v) => {
                v.push(other);
                Cond::Or(v)
            }
            c => Cond::Or(vec![c, other]),
        }
    }

    pub fn holds(&self, item: Option<&Item>) -> bool {
        let attr = |name: &str| item.and_then(|i| i.get(name));
        match self {
            Cond::Exists => item.is_some(),
            Cond::NotExists => item.is_none(),
            Cond::Eq(a, v) => attr(a) == Some(v),
            Cond::In(a, vs) => attr(a).is_some_and(|x| vs.contains(x)),
            Cond::Ge(a, n) => attr(a).and_then(Value::as_i64).is_some_and(|x| x >= *n),
            Cond::Le(a, n) => attr(a).and_then(Value::as_i64).is_some_and(|x| x <= *n),
            Cond::Missing(a) => attr(a).is_none(),
            Cond::And(cs) => cs.iter().all(|c| c.holds(item)),
            Cond::Or(cs) => cs.iter().any(|c| c.holds(item)),
        }
    }
}

/// An update: `set` replaces attributes, `add` adds to integer counters (an absent counter
/// counts as 0, a negative number subtracts), `remove` deletes attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, attr: &str, v: impl Into<Value>) -> Self {
        self.set.push((attr.into(), v.into()));
        self
    }

    pub fn add(mut self, attr: &str, n: i64) -> Self {
        self.add.push((attr.into(), n));
        self
    }

    pub fn remove(mut self, attr: &str) -> Self {
        self.remove.push(attr.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let names = self.set.iter().map(|(a, _)| a).chain(self.add.iter().map(|(a, _)| a)).chain(self.remove.iter());
        let mut seen = std::collections::HashSet::new();
        for a in names {
            if a == table::PK || a == table::SK {
                return Err(StoreError::Invalid("an update may not change the key".into()));
            }
            if !seen.insert(a) {
                return Err(StoreError::Invalid(format!("attribute {a} updated twice")));
            }
        }
        if seen.is_empty() {
            return Err(StoreError::Invalid("empty update".into()));
        }
        Ok(())
    }

    /// The item after this update (the embedded and MySQL engines' evaluation).
    #[cfg(any(feature = "embedded", feature = "mysql"))]
    pub(crate) fn apply(&self, key: &super::Key, old: Option<Item>) -> Result<Item, StoreError> {
        let mut item = old.unwrap_or_else(|| {
            let mut m = Item::new();
            m.insert(table::PK.into(), Value::String(key.pk.clone()));
            m.insert(table::SK.into(), Value::String(key.sk.clone()));
            m
        });
        for (a, v) in &self.set {
            item.insert(a.clone(), v.clone());
        }
        for (a, n) in &self.add {
            let cur = match item.get(a) {
                None => 0,
                Some(v) => {
                    v.as_i64().ok_or_else(|| StoreError::Invalid(format!("ADD on non-integer attribute {a}")))?
                }
            };
            let new = cur.checked_add(*n).ok_or_else(|| StoreError::Invalid(format!("counter {a} overflows")))?;
            item.insert(a.clone(), Value::from(new));
        }
        for a in &self.remove {
            item.remove(a);
        }
        Ok(item)
    }
}
