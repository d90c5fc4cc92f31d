//! Starting a payment: the order must be payable (ordering), a shopper past the day's
//! payments must have verified their phone lately (payments, users), and a prepay that finds
//! the order paid at WeChat applies that payment instead (payments).

use domain::ids::{OpenId, OrderNo};
use wechat::pay::types::RequestPayment;

use crate::ordering::{self, Prepaid};
use crate::{App, AppError, Code, payments, users};

/// The `wx.requestPayment` parameters of the shopper's unpaid order.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn start_payment(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<RequestPayment, AppError> {
    ordering::take_pay_attempt(app, openid).await?;
    let order = ordering::payable(app, openid, order_no).await?;
    if payments::needs_verification(app, openid).await? {
        let user = users::get(app, openid).await?;
        payments::check_verified(app, user.phone_verified_at)?;
    }
    match ordering::prepay(app, &order).await? {
        Prepaid::Pay(params) => Ok(params),
        Prepaid::PaidAtWechat => {
            // Paid already (a notify still on its way): apply it from the query.
            payments::sync_from_wechat(app, order_no).await?;
            Err(AppError::new(Code::AlreadyPaid, "this order is paid"))
        }
    }
}
