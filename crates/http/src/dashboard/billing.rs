//! The billing page: balance, the amount held for calls in flight, and the
//! transactions (newest first, cursor paging).

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_platform::{Transaction, TxDirection, TxPage, TxQuery, Wallet};

use super::{
    layout::{Nav, page},
    page::{DashError, datetime, html_page},
    session::Session,
};
use crate::AppState;

/// Transactions per page.
pub(crate) const TX_PAGE: u32 = 25;
/// Longest cursor accepted from the query string.
const MAX_CURSOR: usize = 512;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct BillingQuery {
    cursor: Option<String>,
    msg: Option<String>,
}

fn signed_amount(t: &Transaction) -> String {
    match t.direction {
        TxDirection::Topup => format!("+{}", t.amount),
        TxDirection::Charge => format!("−{}", t.amount),
    }
}

fn content(wallet: &Wallet, txs: &TxPage, first_page: bool) -> Markup {
    html! {
        div.cards {
            div.card { div.muted { "Balance" } div.figure #balance { (wallet.balance) } }
            div.card { div.muted { "Held for calls in flight" } div.figure #held { (wallet.held) } }
            div.card { div.muted { "Available" } div.figure #available { (wallet.available()) } }
        }
        p.muted { "Credit is added by an administrator. Calls draw from the balance; a hold for the worst case is placed while a call runs and settled to its real cost." }
        h2 { "Transactions" }
        @if txs.rows.is_empty() && first_page {
            p.muted #no-transactions { "No transactions yet." }
        }
        table #transactions {
            thead { tr {
                th { "Time (UTC)" } th { "Type" } th.num { "Amount" } th { "Model" }
                th { "Reference" } th { "Note" }
            } }
            tbody {
                @for t in &txs.rows {
                    tr.tx data-direction=(t.direction.as_str()) {
                        td { (datetime(t.created_at)) }
                        td { (t.kind.as_str()) }
                        td.num.amount { (signed_amount(t)) }
                        td { (t.model.as_deref().unwrap_or("")) }
                        td { @if let Some(r) = &t.reference_id { code { (r) } } }
                        td { (t.note.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        nav.pager {
            @if !first_page { a href="/billing" { "← Newest" } }
            @if let Some(c) = &txs.next_cursor {
                a rel="next" href=(format!("/billing?{}", serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default())) { "Older →" }
            }
        }
    }
}

pub(crate) async fn billing_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<BillingQuery>,
) -> Response {
    let cursor = q
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| c.chars().take(MAX_CURSOR).collect::<String>());
    let first_page = cursor.is_none();
    let p = state.platform();
    let account = &session.account.id;
    let result = async {
        let wallet = p.wallet(account).await?;
        let txs = p
            .transactions(
                account,
                TxQuery {
                    limit: TX_PAGE,
                    cursor,
                    ..TxQuery::default()
                },
            )
            .await?;
        Ok::<_, DashError>((wallet, txs))
    }
    .await;
    match result {
        Ok((wallet, txs)) => html_page(
            StatusCode::OK,
            page(
                &session.chrome(q.msg.as_deref()),
                Nav::Billing,
                "Billing",
                content(&wallet, &txs, first_page),
            ),
        ),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_platform::{Nanos, TxKind};

    #[test]
    fn amounts_carry_their_direction_and_text_is_escaped() {
        let t = Transaction {
            id: "tx_1".into(),
            created_at: 0,
            direction: TxDirection::Topup,
            kind: TxKind::Bonus,
            amount: Nanos(2_500_000_000),
            model: None,
            reference_id: None,
            note: Some("<i>welcome</i>".into()),
        };
        assert_eq!(signed_amount(&t), "+$2.50");
        let c = Transaction {
            direction: TxDirection::Charge,
            kind: TxKind::ModelUsage,
            ..t.clone()
        };
        assert_eq!(signed_amount(&c), "−$2.50");
        let html = content(
            &Wallet {
                balance: Nanos(1_000_000_000),
                held: Nanos(250_000_000),
            },
            &TxPage {
                rows: vec![t],
                next_cursor: Some("a+b/c".into()),
            },
            true,
        )
        .into_string();
        assert!(html.contains("id=\"balance\">$1.00<"));
        assert!(html.contains("id=\"available\">$0.75<"));
        assert!(html.contains("&lt;i&gt;welcome&lt;/i&gt;"));
        assert!(html.contains("href=\"/billing?cursor=a%2Bb%2Fc\""));
    }
}
