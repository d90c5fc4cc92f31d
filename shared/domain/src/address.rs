//! Delivery addresses: what a shopper keeps, what `wx.chooseAddress` hands the mini-program,
//! and the masked form every list, log and export shows. No I/O.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::user::mask_phone;

/// A delivery address as the shop keeps it (and an order snapshots it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// The object `wx.chooseAddress` gives the mini-program, passed on as it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChosenAddress {
    pub user_name: String,
    pub tel_number: String,
    pub province_name: String,
    pub city_name: String,
    pub county_name: String,
    pub detail_info: String,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// wx.chooseAddress also sends these; they are not kept.
    #[serde(default, rename = "errMsg")]
    pub _err_msg: Option<String>,
    #[serde(default, rename = "nationalCode")]
    pub _national_code: Option<String>,
}

impl From<ChosenAddress> for Address {
    fn from(c: ChosenAddress) -> Self {
        Address {
            name: c.user_name,
            phone: c.tel_number,
            province: c.province_name,
            city: c.city_name,
            district: c.county_name,
            detail: c.detail_info,
            postal_code: c.postal_code.filter(|p| !p.trim().is_empty()),
        }
    }
}

fn text(field: &str, v: &str, max: usize) -> Result<String, DomainError> {
    let v = v.trim();
    let n = v.chars().count();
    if n == 0 || n > max {
        return Err(DomainError::invalid(field, format!("1 to {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// A mainland mobile (11 digits from 1) or a landline (digits with `-`, 7 to 20), as the
/// carrier will call it.
fn phone(v: &str) -> Result<String, DomainError> {
    let v: String = v.chars().filter(|c| *c != ' ').collect();
    let mobile = v.len() == 11 && v.starts_with('1') && v.bytes().all(|b| b.is_ascii_digit());
    let landline = (7..=20).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && v.bytes().filter(u8::is_ascii_digit).count() >= 7;
    if mobile || landline {
        Ok(v)
    } else {
        Err(DomainError::invalid("phone", "a mobile number of 11 digits or a landline"))
    }
}

impl Address {
    /// The address with every field checked and trimmed.
    pub fn checked(self) -> Result<Address, DomainError> {
        let postal_code = match self.postal_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) if p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.to_owned()),
            Some(_) => return Err(DomainError::invalid("postal_code", "6 digits")),
        };
        Ok(Address {
            name: text("name", &self.name, 25)?,
            phone: phone(&self.phone)?,
            province: text("province", &self.province, 20)?,
            city: text("city", &self.city, 20)?,
            district: text("district", &self.district, 20)?,
            detail: text("detail", &self.detail, 120)?,
            postal_code,
        })
    }

    /// What lists, logs and exports show: the region, the name's first character, the phone
    /// masked, and no street address.
    pub fn masked(&self) -> Address {
        let first: String = self.name.chars().take(1).collect();
        Address {
            name: format!("{first}**"),
            phone: mask_phone(&self.phone),
            province: self.province.clone(),
            city: self.city.clone(),
            district: self.district.clone(),
            detail: "***".into(),
            postal_code: None,
        }
    }
}

/// One address in a shopper's book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAddress {
    pub id: String,
    pub address: Address,
    pub is_default: bool,
}

/// A shopper's addresses, kept as one record (with a version) so the single default can be
/// moved with one conditional write.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddressBook {
    pub addresses: Vec<SavedAddress>,
    #[serde(default)]
    pub version: i64,
}

impl AddressBook {
    /// Most addresses one shopper keeps.
    pub const MAX: usize = 10;

    fn next(&self) -> AddressBook {
        AddressBook { addresses: self.addresses.clone(), version: self.version + 1 }
    }

    fn index(&self, id: &str) -> Result<usize, DomainError> {
        self.addresses.iter().position(|a| a.id == id).ok_or_else(|| DomainError::invalid("id", "no such address"))
    }

    pub fn get(&self, id: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| a.id == id).map(|a| &a.address)
    }

    pub fn default_address(&self) -> Option<&Address> {
        self.addresses.iter().find(|a| a.is_default).map(|a| &a.address)
    }

    /// Adds an address (checked); the first one, or one asked to be, becomes the default.
    pub fn add(&self, id: String, address: Address, make_default: bool) -> Result<AddressBook, DomainError> {
        if self.addresses.len() >= Self::MAX {
            return Err(DomainError::invalid("address", format!("at most {} addresses; remove one first", Self::MAX)));
        }
        let address = address.checked()?;
        let mut b = self.next();
        let is_default = make_default || b.addresses.is_empty();
        if is_default {
            b.addresses.iter_mut().for_each(|a| a.is_default = false);
        }
        b.addresses.push(SavedAddress { id, address, is_default });
        Ok(b)
    }

    pub fn replace(&self, id: &str, address: Address) -> Result<AddressBook, DomainError> {
        let i = self.index(id)?;
        let mut b = self.next();
        b.addresses[i].address = address.checked()?;
        Ok(b)
    }

    /// Removes an address; if it was the default, the first left becomes the default.
    pub fn remove(&self, id: &str) -> Result<AddressBook, DomainError> {
        let i = self.index(id)?;
        let mut b = self.next();
        let was_default = b.addresses.remove(i).is_default;
        if was_default && let Some(first) = b.addresses.first_mut() {
            first.is_default = true;
        }
        Ok(b)
    }

    pub fn set_default(&self, id: &str) -> Result<AddressBook, DomainError> {
        let i = self.index(id)?;
        let mut b = self.next();
        b.addresses.iter_mut().enumerate().for_each(|(j, a)| a.is_default = i == j);
        Ok(b)
    }
}

/// A checked address in Guangzhou, for the tests of this crate.
#[cfg(test)]
pub(crate) fn sample() -> Address {
    Address {
        name: "张三".into(),
        phone: "13800138000".into(),
        province: "广东省".into(),
        city: "广州市".into(),
        district: "海珠区".into(),
        detail: "新港中路397号".into(),
        postal_code: Some("510000".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Address {
        sample()
    }

    #[test]
    fn wechat_chosen_addresses_read_as_ours() {
        let chosen: ChosenAddress = serde_json::from_str(
            r#"{"errMsg":"chooseAddress:ok","userName":"张三","postalCode":"510000","provinceName":"广东省",
                "cityName":"广州市","countyName":"海珠区","detailInfo":"新港中路397号","nationalCode":"510000",
                "telNumber":"020-81167888"}"#,
        )
        .unwrap();
        let a = Address::from(chosen).checked().unwrap();
        assert_eq!((a.name.as_str(), a.district.as_str(), a.phone.as_str()), ("张三", "海珠区", "020-81167888"));
    }

    #[test]
    fn bad_addresses_are_refused_by_field() {
        type Spoil = fn(&mut Address);
        let cases: Vec<(&str, Spoil)> = vec![
            ("name", |a| a.name = " ".into()),
            ("name", |a| a.name = "名".repeat(26)),
            ("phone", |a| a.phone = "12345".into()),
            ("phone", |a| a.phone = "1380013800a".into()),
            ("province", |a| a.province = String::new()),
            ("detail", |a| a.detail = "路\u{0000}号".into()),
            ("detail", |a| a.detail = "路".repeat(121)),
            ("postal_code", |a| a.postal_code = Some("51000".into())),
        ];
        for (field, spoil) in cases {
            let mut a = good();
            spoil(&mut a);
            match a.checked() {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(good().checked().is_ok());
    }

    /// One default at all times; at most ten addresses.
    #[test]
    fn the_book_keeps_one_default() {
        let b = AddressBook::default().add("a1".into(), good(), false).unwrap();
        assert!(b.addresses[0].is_default, "the first is the default");
        let b = b.add("a2".into(), good(), true).unwrap();
        assert_eq!(b.addresses.iter().filter(|a| a.is_default).map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a2"]);
        let b = b.remove("a2").unwrap();
        assert!(b.addresses[0].is_default, "the default moves to the first left");
        assert!(b.set_default("nope").is_err() && b.remove("nope").is_err());
        let mut full = b.clone();
        for i in 0..9 {
            full = full.add(format!("x{i}"), good(), false).unwrap();
        }
        assert!(full.add("x10".into(), good(), false).is_err(), "ten at most");
        assert!(b.add("bad".into(), Address { phone: "1".into(), ..good() }, false).is_err());
        assert_eq!(full.version, b.version + 9);
    }

    #[test]
    fn masked_keeps_the_region_only() {
        let m = good().masked();
        assert_eq!((m.name.as_str(), m.phone.as_str(), m.detail.as_str()), ("张**", "138****8000", "***"));
        assert_eq!(m.city, "广州市");
    }
}
