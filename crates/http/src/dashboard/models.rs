//! The models page: the catalogue (the router's, as `/v1/models` serves it)
//! with prices per million tokens.

use axum::{extract::State, http::StatusCode, response::Response};
use maud::{Markup, html};
use switchyard_router::CatalogueModel;

use super::{
    layout::{Nav, page},
    page::{html_page, price_per_million, thousands},
    session::Session,
};
use crate::AppState;

fn content(models: &[CatalogueModel]) -> Markup {
    html! {
        p.muted { "Prices are in USD per million tokens. Call a model by its id or an alias." }
        @if models.is_empty() {
            p.muted #no-models { "No models are configured." }
        } @else {
            table #models {
                thead { tr {
                    th { "Model" } th { "Name" } th { "Developer" } th.num { "Context" }
                    th.num { "Max output" } th.num { "Input" } th.num { "Cached input" }
                    th.num { "Output" }
                } }
                tbody {
                    @for m in models {
                        tr data-model=(m.id) {
                            td {
                                code { (m.id) }
                                @if !m.aliases.is_empty() {
                                    br;
                                    span.muted { "aliases: " (m.aliases.join(", ")) }
                                }
                            }
                            td { (m.name) }
                            td { (m.developer) }
                            td.num { (m.context_length.map(|n| thousands(u64::from(n))).unwrap_or_default()) }
                            td.num { (m.max_output.map(|n| thousands(u64::from(n))).unwrap_or_default()) }
                            td.num.price-input { (price_per_million(m.prices.prompt)) }
                            td.num { (price_per_million(m.prices.cached_prompt.unwrap_or(m.prices.prompt))) }
                            td.num.price-output { (price_per_million(m.prices.completion)) }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) async fn models_page(State(state): State<AppState>, session: Session) -> Response {
    html_page(
        StatusCode::OK,
        page(
            &session.chrome(None),
            Nav::Models,
            "Models",
            content(state.router().models()),
        ),
    )
}
