//! The playground: pick a model and chat.
//!
//! Without JavaScript the form posts to `/playground` and the page comes back
//! with the answer; with it, `app.js` posts the same form to
//! `/playground/stream` and shows the answer as it streams (the chat
//! completion's own SSE). The conversation so far travels in a hidden
//! `history` field (JSON), so the server keeps no playground state.
//!
//! Billing: every call runs through `chat::run`, the same path as
//! `POST /v1/chat/completions` (scope check, hold, backend, settlement, the
//! ledger), with origin `playground`, on a regular key of the session's
//! account named `playground`. That key is made on first use and kept off
//! the keys page (its calls show in the usage log with its prefix). The
//! per-minute rate limits of that key are checked here, as the API's
//! middleware does for API calls.

use axum::{
    Extension,
    body::Body,
    extract::{Query, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_platform::{KeyAuth, KeyInfo, KeyKind, NewKey};

use super::{
    csrf::{self, FormData},
    keys::is_playground_key,
    layout::{Nav, page},
    page::{DashError, html_page},
    session::{Posted, Session},
};
use crate::{AppState, accounting::Origin, request_id::RequestId};

/// The name of the per-account key the playground calls with.
pub(crate) const PLAYGROUND_KEY_NAME: &str = "playground";
/// Most earlier turns carried in `history`.
const MAX_TURNS: usize = 100;

/// One earlier turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Turn {
    pub role: String,
    pub content: String,
}

/// What the playground form posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ask {
    pub model: String,
    pub system: Option<String>,
    pub history: Vec<Turn>,
    pub message: String,
}

impl Ask {
    pub fn parse(form: &FormData) -> Result<Ask, DashError> {
        let model = form
            .text("model")
            .ok_or_else(|| DashError::bad_request("Pick a model."))?
            .to_owned();
        let message = form
            .text("message")
            .ok_or_else(|| DashError::bad_request("Write a message."))?
            .to_owned();
        let history: Vec<Turn> = match form.text("history") {
            None => Vec::new(),
            Some(h) => serde_json::from_str(h)
                .map_err(|_| DashError::bad_request("The conversation could not be read."))?,
        };
        if history.len() > MAX_TURNS {
            return Err(DashError::bad_request(
                "The conversation is too long; start a new one.",
            ));
        }
        if history
            .iter()
            .any(|t| t.role != "user" && t.role != "assistant")
        {
            return Err(DashError::bad_request(
                "The conversation could not be read.",
            ));
        }
        Ok(Ask {
            model,
            system: form.text("system").map(str::to_owned),
            history,
            message,
        })
    }

    /// The chat completion request body.
    pub fn body(&self, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(self.history.len() + 2);
        if let Some(s) = &self.system {
            messages.push(json!({"role": "system", "content": s}));
        }
        for t in &self.history {
            messages.push(json!({"role": t.role, "content": t.content}));
        }
        messages.push(json!({"role": "user", "content": self.message}));
        json!({"model": self.model, "messages": messages, "stream": stream})
    }
}

/// The playground key of the account (made on first use) as the chat path
/// sees an authenticated key.
async fn playground_auth(state: &AppState, session: &Session) -> Result<KeyAuth, DashError> {
    let p = state.platform();
    let account = &session.account;
    let existing = p
        .list_keys(&account.id, Some(KeyKind::Regular))
        .await?
        .into_iter()
        .find(is_playground_key);
    let key: KeyInfo = match existing {
        Some(k) => k,
        None => {
            p.create_key(
                &account.id,
                NewKey {
                    name: Some(PLAYGROUND_KEY_NAME.to_owned()),
                    kind: KeyKind::Regular,
                    scopes: None,
                    limit: None,
                },
            )
            .await?
            .info
        }
    };
    if key.disabled {
        return Err(DashError::forbidden(
            "The playground's key is disabled (it was changed through the API).",
        ));
    }
    let auth = KeyAuth {
        key_id: key.id,
        // The secret's public part is not needed past authentication.
        public_id: String::new(),
        prefix: key.prefix,
        account_id: account.id.clone(),
        account_is_admin: account.is_admin,
        kind: KeyKind::Regular,
        scopes: key.scopes,
        rate: key.rate.or(account.rate),
    };
    p.rate_check(&auth).await?;
    Ok(auth)
}

/// Runs the completion as the chat endpoint does, billed to the playground key.
async fn complete(
    state: &AppState,
    session: &Session,
    ask: &Ask,
    stream: bool,
    rid: Option<RequestId>,
) -> Result<Response, DashError> {
    let auth = playground_auth(state, session).await?;
    let body = serde_json::to_vec(&ask.body(stream)).map_err(DashError::internal)?;
    let req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(DashError::internal)?;
    Ok(crate::chat::run(state, &auth, Origin::Playground, rid, req).await)
}

/// The answer text of a non-streaming completion, or the error's message.
async fn read_answer(resp: Response) -> Result<String, String> {
    let ok = resp.status().is_success();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|_| "The answer could not be read.".to_owned())?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if ok {
        Ok(v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned())
    } else {
        Err(v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("The request failed.")
            .to_owned())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PlaygroundQuery {
    model: Option<String>,
}

/// The page's content (pure: data in, markup out).
fn content(
    models: &[&str],
    token: &str,
    ask: Option<&Ask>,
    turns: &[Turn],
    error: Option<&str>,
    selected: Option<&str>,
) -> Markup {
    let history = serde_json::to_string(turns).unwrap_or_else(|_| "[]".to_owned());
    let selected = selected.or(models.first().copied());
    let keep_message = error.is_some();
    html! {
        @if models.is_empty() {
            p.muted #no-models { "No models are configured." }
        }
        div #chat.chat aria-live="polite" {
            @for t in turns {
                div class=(format!("msg {}", if t.role == "user" { "user" } else { "assistant" })) {
                    span.role { (t.role) }
                    span.content { (t.content) }
                }
            }
        }
        @if let Some(e) = error { p.error #playground-error role="alert" { (e) } }
        form #playground-form.stack method="post" action="/playground" {
            (csrf::hidden(token))
            input type="hidden" name="history" value=(history);
            label for="pg-model" { "Model" }
            select #pg-model name="model" {
                @for m in models {
                    option value=(m) selected[Some(*m) == selected] { (m) }
                }
            }
            details {
                summary { "System prompt" }
                textarea #pg-system name="system" rows="2" {
                    (ask.and_then(|a| a.system.as_deref()).unwrap_or(""))
                }
            }
            label for="pg-message" { "Message" }
            textarea #pg-message name="message" rows="4" required {
                @if keep_message { (ask.map(|a| a.message.as_str()).unwrap_or("")) }
            }
            p {
                button.primary type="submit" { "Send" }
                " "
                a href="/playground" { "New conversation" }
            }
        }
        p.muted { "Calls are billed to your balance like API calls and show in the usage log with origin “playground”." }
    }
}

fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    ask: Option<&Ask>,
    turns: &[Turn],
    error: Option<&str>,
    selected: Option<&str>,
) -> Response {
    let models: Vec<&str> = state
        .router()
        .models()
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    html_page(
        status,
        page(
            &session.chrome(None),
            Nav::Playground,
            "Playground",
            content(&models, &session.csrf, ask, turns, error, selected),
        ),
    )
}

pub(crate) async fn playground_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<PlaygroundQuery>,
) -> Response {
    render(
        &state,
        &session,
        StatusCode::OK,
        None,
        &[],
        None,
        q.model.as_deref(),
    )
}

/// Without JavaScript: ask, wait, show the page with the answer.
pub(crate) async fn ask(
    State(state): State<AppState>,
    rid: Option<Extension<RequestId>>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    let ask = match Ask::parse(&form) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let rid = rid.map(|Extension(r)| r);
    let outcome = match complete(&state, &session, &ask, false, rid).await {
        Ok(resp) => read_answer(resp).await,
        Err(e) => Err(e.message),
    };
    match outcome {
        Ok(answer) => {
            let mut turns = ask.history.clone();
            turns.push(Turn {
                role: "user".into(),
                content: ask.message.clone(),
            });
            turns.push(Turn {
                role: "assistant".into(),
                content: answer,
            });
            render(
                &state,
                &session,
                StatusCode::OK,
                Some(&ask),
                &turns,
                None,
                Some(&ask.model),
            )
        }
        Err(message) => render(
            &state,
            &session,
            StatusCode::OK,
            Some(&ask),
            &ask.history,
            Some(&message),
            Some(&ask.model),
        ),
    }
}

/// With JavaScript: the chat completion's SSE stream (or its JSON error).
pub(crate) async fn stream(
    State(state): State<AppState>,
    rid: Option<Extension<RequestId>>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    let ask = match Ask::parse(&form) {
        Ok(a) => a,
        Err(e) => return json_error(e),
    };
    match complete(&state, &session, &ask, true, rid.map(|Extension(r)| r)).await {
        Ok(resp) => resp,
        Err(e) => json_error(e),
    }
}

/// A dashboard error in the chat API's shape, for the streaming script.
fn json_error(e: DashError) -> Response {
    let mut resp = (
        e.status,
        axum::Json(json!({"error": {"message": e.message}})),
    )
        .into_response();
    if let Some(secs) = e.retry_after
        && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> FormData {
        FormData::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn asks_parse_with_history_and_build_the_chat_body() {
        let hist = serde_json::to_string(&vec![
            Turn {
                role: "user".into(),
                content: "hi".into(),
            },
            Turn {
                role: "assistant".into(),
                content: "hello".into(),
            },
        ])
        .unwrap();
        let body = serde_urlencoded::to_string([
            ("model", "m/x"),
            ("system", "be brief"),
            ("history", hist.as_str()),
            ("message", "and now?"),
        ])
        .unwrap();
        let ask = Ask::parse(&form(&body)).unwrap();
        assert_eq!(ask.history.len(), 2);
        let v = ask.body(true);
        assert_eq!(v["model"], "m/x");
        assert_eq!(v["stream"], true);
        let roles: Vec<&str> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(v["messages"][3]["content"], "and now?");
    }

    #[test]
    fn bad_asks_are_refused() {
        assert!(Ask::parse(&form("message=hi")).is_err());
        assert!(Ask::parse(&form("model=m")).is_err());
        assert!(Ask::parse(&form("model=m&message=hi&history=not-json")).is_err());
        let system_turn = serde_urlencoded::to_string([
            ("model", "m"),
            ("message", "hi"),
            ("history", r#"[{"role":"system","content":"x"}]"#),
        ])
        .unwrap();
        assert!(Ask::parse(&form(&system_turn)).is_err());
    }

    #[test]
    fn page_escapes_the_conversation_and_keeps_history() {
        let turns = vec![Turn {
            role: "assistant".into(),
            content: "<script>x</script>".into(),
        }];
        let html = content(&["m"], "tok", None, &turns, None, None).into_string();
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        // The hidden history is the JSON of the turns, attribute-escaped.
        assert!(html.contains("name=\"history\" value=\"[{&quot;role&quot;:&quot;assistant&quot;"));
        assert!(html.contains("<option value=\"m\" selected>m</option>"));
    }
}
