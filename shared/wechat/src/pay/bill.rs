//! The trade bill (`bill_type=ALL`): a CSV whose cells all start with a backtick (a text
//! guard for spreadsheets), amounts in yuan with two decimals (fees with five), one row per
//! payment or refund, then a summary header and a summary row. Parsing and rendering live
//! together so the format is written once; amounts become integers, never floats.

use domain::money::Fen;

pub const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
pub const SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
const COLUMNS: usize = 27;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BillError {
    #[error("the bill has no header line")]
    NoHeader,
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the bill has no summary")]
    NoSummary,
    #[error("the rows do not add up to the summary ({0})")]
    Mismatch(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BillRow {
    pub trade_time: String,
    pub appid: String,
    pub mchid: String,
    pub sub_mchid: String,
    pub device_info: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub trade_type: String,
    /// SUCCESS for a payment, REFUND for a refund row (also REVOKED for revoked ones).
    pub trade_state: String,
    pub bank_type: String,
    pub currency: String,
    pub settlement_total: Fen,
    pub coupon: Fen,
    pub refund_id: String,
    pub out_refund_no: String,
    pub refund: Fen,
    pub coupon_refund: Fen,
    pub refund_type: String,
    pub refund_status: String,
    pub body: String,
    pub attach: String,
    /// The fee in thousandths of a fen (the bill prints 1/100,000 yuan); negative on refunds.
    pub fee_milli_fen: i64,
    pub rate: String,
    pub order_total: Fen,
    pub refund_requested: Fen,
    pub rate_note: String,
}

impl BillRow {
    pub fn is_refund(&self) -> bool {
        self.trade_state == "REFUND"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BillSummary {
    pub count: i64,
    pub settlement_total: Fen,
    pub refund_total: Fen,
    pub coupon_refund_total: Fen,
    pub fee_total_milli_fen: i64,
    pub order_total: Fen,
    pub refund_requested_total: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bill {
    pub rows: Vec<BillRow>,
    pub summary: BillSummary,
}

/// A decimal with up to `scale` fraction digits as an integer of 10^-scale units.
fn decimal(s: &str, scale: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || frac.len() > scale as usize {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = int.parse().ok()?;
    let mut frac_v: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    frac_v *= 10i64.pow(scale - frac.len() as u32);
    v = v.checked_mul(10i64.pow(scale))?.checked_add(frac_v)?;
    Some(if neg { -v } else { v })
}

fn fmt_decimal(v: i64, scale: u32) -> String {
    let p = 10i64.pow(scale);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:0width$}", a / p as u64, a % p as u64, width = scale as usize)
}

/// Splits a data line into its backtick-guarded cells. Cells are separated by ",`", which
/// keeps commas inside a cell (the attach field may hold JSON) intact.
fn cells(line: &str) -> Option<Vec<&str>> {
    let rest = line.strip_prefix('`')?;
    Some(rest.split(",`").collect())
}

pub fn parse(text: &str) -> Result<Bill, BillError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(BillError::NoHeader)?;
    if !header.starts_with("交易时间") {
        return Err(BillError::NoHeader);
    }
    let mut bill = Bill::default();
    let mut summary_next = false;
    for (i, line) in lines {
        let n = i + 1;
        let bad = |problem: &str| BillError::Line { line: n, problem: problem.to_owned() };
        if line.starts_with("总交易单数") {
            summary_next = true;
            continue;
        }
        let c = cells(line).ok_or_else(|| bad("a data line must start with a backtick"))?;
        if summary_next {
            if c.len() != 7 {
                return Err(bad("the summary has 7 cells"));
            }
            let fen = |j: usize| decimal(c[j], 2).map(Fen::new).ok_or_else(|| bad("bad amount in summary"));
            bill.summary = BillSummary {
                count: c[0].trim().parse().map_err(|_| bad("bad count in summary"))?,
                settlement_total: fen(1)?,
                refund_total: fen(2)?,
                coupon_refund_total: fen(3)?,
                fee_total_milli_fen: decimal(c[4], 5).ok_or_else(|| bad("bad fee in summary"))?,
                order_total: fen(5)?,
                refund_requested_total: fen(6)?,
            };
            return check(bill);
        }
        if c.len() != COLUMNS {
            return Err(bad(&format!("expected {COLUMNS} cells, found {}", c.len())));
        }
        let fen =
            |j: usize| decimal(c[j], 2).map(Fen::new).ok_or_else(|| bad(&format!("bad amount in column {}", j + 1)));
        let s = |j: usize| c[j].to_owned();
        bill.rows.push(BillRow {
            trade_time: s(0),
            appid: s(1),
            mchid: s(2),
            sub_mchid: s(3),
            device_info: s(4),
            transaction_id: s(5),
            out_trade_no: s(6),
            openid: s(7),
            trade_type: s(8),
            trade_state: s(9),
            bank_type: s(10),
            currency: s(11),
            settlement_total: fen(12)?,
            coupon: fen(13)?,
            refund_id: s(14),
            out_refund_no: s(15),
            refund: fen(16)?,
            coupon_refund: fen(17)?,
            refund_type: s(18),
            refund_status: s(19),
            body: s(20),
            attach: s(21),
            fee_milli_fen: decimal(c[22], 5).ok_or_else(|| bad("bad fee"))?,
            rate: s(23),
            order_total: fen(24)?,
            refund_requested: fen(25)?,
            rate_note: s(26),
        });
    }
    Err(BillError::NoSummary)
}

/// A bill whose rows do not add up to its own summary was cut or altered: refuse it rather
/// than reconcile against half a day.
fn check(bill: Bill) -> Result<Bill, BillError> {
    let s = &bill.summary;
    let sum = |f: fn(&BillRow) -> i64| bill.rows.iter().map(f).sum::<i64>();
    if s.count != bill.rows.len() as i64 {
        return Err(BillError::Mismatch("count"));
    }
    if s.settlement_total.fen() != sum(|r| r.settlement_total.fen()) {
        return Err(BillError::Mismatch("settlement total"));
    }
    if s.refund_total.fen() != sum(|r| r.refund.fen()) {
        return Err(BillError::Mismatch("refund total"));
    }
    if s.fee_total_milli_fen != sum(|r| r.fee_milli_fen) {
        return Err(BillError::Mismatch("fee total"));
    }
    Ok(bill)
}

/// Writes rows in the bill format, with their summary.
pub fn render(rows: &[BillRow]) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\r\n");
    let y = |f: Fen| fmt_decimal(f.fen(), 2);
    for r in rows {
        let cells = [
            r.trade_time.clone(),
            r.appid.clone(),
            r.mchid.clone(),
            r.sub_mchid.clone(),
            r.device_info.clone(),
            r.transaction_id.clone(),
            r.out_trade_no.clone(),
            r.openid.clone(),
            r.trade_type.clone(),
            r.trade_state.clone(),
            r.bank_type.clone(),
            r.currency.clone(),
            y(r.settlement_total),
            y(r.coupon),
            r.refund_id.clone(),
            r.out_refund_no.clone(),
            y(r.refund),
            y(r.coupon_refund),
            r.refund_type.clone(),
            r.refund_status.clone(),
            r.body.clone(),
            r.attach.clone(),
            fmt_decimal(r.fee_milli_fen, 5),
            r.rate.clone(),
            y(r.order_total),
            y(r.refund_requested),
            r.rate_note.clone(),
        ];
        out.push_str(&cells.iter().map(|c| format!("`{c}")).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out.push_str(SUMMARY_HEADER);
    out.push_str("\r\n");
    let sum = |f: fn(&BillRow) -> i64| rows.iter().map(f).sum::<i64>();
    let summary = [
        rows.len().to_string(),
        y(Fen::new(sum(|r| r.settlement_total.fen()))),
        y(Fen::new(sum(|r| r.refund.fen()))),
        y(Fen::new(sum(|r| r.coupon_refund.fen()))),
        fmt_decimal(sum(|r| r.fee_milli_fen), 5),
        y(Fen::new(sum(|r| r.order_total.fen()))),
        y(Fen::new(sum(|r| r.refund_requested.fen()))),
    ];
    out.push_str(&summary.iter().map(|c| format!("`{c}")).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal("60.00", 2), Some(6000));
        assert_eq!(decimal("0.5", 2), Some(50));
        assert_eq!(decimal("-0.27000", 5), Some(-27000));
        assert_eq!(decimal("1.234", 2), None);
        assert_eq!(decimal("1e3", 2), None);
        assert_eq!(fmt_decimal(-27000, 5), "-0.27000");
        assert_eq!(fmt_decimal(6000, 2), "60.00");
    }
}
