//! A return's goods arrived: the refund of its lines starts through the refund path (its
//! approvals apply; asking again finds the same refund), then the return records it.

use domain::ids::OrderNo;
use domain::operator::Caller;
use domain::returns::ReturnRecord;

use crate::refunds::{self, RefundInput, Requester};
use crate::{App, AppError, returns};

pub async fn received(app: &App, by: &Caller, order_no: &OrderNo, id: &str) -> Result<ReturnRecord, AppError> {
    let of_return = returns::arrived(app, order_no, id).await?;
    let input = RefundInput {
        request_id: of_return.request_id,
        amount_fen: None,
        lines: Some(of_return.lines),
        full: false,
        reason: of_return.reason,
    };
    let refund = refunds::create(app, order_no, Requester::Operator(by), input).await?;
    returns::received(app, order_no, id, refund.out_refund_no()).await
}
