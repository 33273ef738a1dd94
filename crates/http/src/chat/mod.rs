//! `POST /v1/chat/completions`: check the scope, validate, resolve the model,
//! place a hold for the worst case (balance and spending limit), call the
//! backend, answer (JSON or SSE, with `x-inference-id`), settle.
//!
//! A refused hold (out of balance, over the key's limit) is a 403 with
//! `x-should-retry: false`, and the backend is never called.

mod assemble;
pub(crate) mod budget;
mod sse;
pub(crate) mod wire;

use std::time::Instant;

use axum::{
    Extension,
    body::Body,
    extract::{Request, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use switchyard_core::{ChatRequest, Event, EventStream, Usage};
use switchyard_platform::{HoldRequest, KeyAuth, Scope, allows};
use switchyard_router::RouteError;

use crate::{
    ApiError, AppState, ErrorKind,
    accounting::{Accounting, Origin, outcome},
    ids::{completion_id, unix_now},
    parse_chat_request,
    request_id::RequestId,
};
use assemble::Assembler;
use sse::SseBody;
use wire::{Completion, Head, UsageOut, is_content_bearing};

/// The ledger outcome for an error response.
pub(crate) fn outcome_for(e: &ApiError) -> &'static str {
    match e.kind {
        ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge | ErrorKind::Conflict => {
            outcome::INVALID_REQUEST
        }
        ErrorKind::NotFound => outcome::MODEL_NOT_FOUND,
        ErrorKind::BadGateway => outcome::UPSTREAM_ERROR,
        ErrorKind::Unavailable | ErrorKind::RateLimited => outcome::UNAVAILABLE,
        ErrorKind::Timeout => outcome::TIMEOUT,
        ErrorKind::PermissionDenied => outcome::FORBIDDEN,
        ErrorKind::Internal | ErrorKind::Authentication => outcome::INTERNAL_ERROR,
    }
}

/// Longest model name echoed back in a 404.
const MAX_ECHOED_MODEL: usize = 128;

pub(crate) fn route_error(e: RouteError) -> ApiError {
    match e {
        RouteError::UnknownModel(m) => {
            let shown: String = m.chars().take(MAX_ECHOED_MODEL).collect();
            ApiError::new(
                ErrorKind::NotFound,
                format!("The model `{shown}` does not exist or you do not have access to it."),
            )
            .with_param("model")
            .with_code("model_not_found")
        }
        RouteError::Unsupported(u) => ApiError::new(ErrorKind::InvalidRequest, u.message)
            .with_param(u.param)
            .with_code("unsupported_parameter"),
        RouteError::Backend(b) => b.into(),
        other => ApiError::internal(other),
    }
}

/// Reads the body, refusing more than `limit` bytes with 413.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("Request body is larger than the limit of {limit} bytes."),
        )
        .with_code("payload_too_large")
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            src = s.source();
        }
        ApiError::new(
            ErrorKind::InvalidRequest,
            "Could not read the request body.",
        )
        .with_code("invalid_body")
    })
}

/// `X-Client-Request-Id`: the caller's own id for a request, recorded in the ledger.
pub const X_CLIENT_REQUEST_ID: &str = "x-client-request-id";
/// `x-inference-id`: the completion id (the `reference_id` of its charge).
pub const X_INFERENCE_ID: &str = "x-inference-id";
/// Longest accepted `X-Client-Request-Id`.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// The caller's `X-Client-Request-Id`: at most 128 printable ASCII characters.
fn client_request_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(X_CLIENT_REQUEST_ID) else {
        return Ok(None);
    };
    let bytes = v.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_CLIENT_REQUEST_ID
        || !bytes.iter().all(|b| (0x20..=0x7e).contains(b))
    {
        return Err(ApiError::invalid(
            "X-Client-Request-Id",
            format!(
                "The X-Client-Request-Id header must be 1 to {MAX_CLIENT_REQUEST_ID} printable ASCII characters."
            ),
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// `POST /v1/chat/completions` (regular keys; see `auth`).
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    auth: Option<Extension<KeyAuth>>,
    origin: Option<Extension<Origin>>,
    rid: Option<Extension<RequestId>>,
    req: Request,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return ApiError::unauthorized("You didn't provide an API key.").into_response();
    };
    let origin = origin.map_or(Origin::Api, |Extension(o)| o);
    run(&state, &auth, origin, rid.map(|Extension(r)| r), req).await
}

/// Runs one chat completion billed to `auth`'s key and account, exactly as
/// `POST /v1/chat/completions` does (scope check, validation, routing, hold,
/// backend call, settlement), and answers with the same response (JSON or
/// SSE, `x-inference-id`, errors in the OpenAI shape).
///
/// For the dashboard's playground: call it with `Origin::Playground`, a
/// [`KeyAuth`] for the session's account (one of its regular keys, so holds,
/// spending limits and the request log work as for the API) and the
/// playground's own request (`Content-Type: application/json`, the chat body;
/// an `X-Client-Request-Id` header is honoured). The `RequestId` is the
/// request-context one when available (`None`: a fresh completion id).
pub(crate) async fn run(
    state: &AppState,
    auth: &KeyAuth,
    origin: Origin,
    rid: Option<RequestId>,
    req: Request,
) -> Response {
    let start = Instant::now();
    // The completion id doubles as the request id when the client sent none.
    let (id, created) = match rid {
        Some(r) if r.generated => (r.value, r.created),
        _ => {
            let created = unix_now();
            (completion_id(created), created)
        }
    };
    let acct = Accounting::new(state.clone(), id.clone(), Some(auth), origin, start);
    let mut resp = answer(state, auth, acct, id.clone(), created, req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_INFERENCE_ID, v);
    }
    resp
}

async fn answer(
    state: &AppState,
    auth: &KeyAuth,
    mut acct: Accounting,
    id: String,
    created: u64,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    match client_request_id(&parts.headers) {
        Ok(Some(c)) => acct.client_request_id(c),
        Ok(None) => {}
        Err(e) => return fail(&mut acct, e),
    }
    if !allows(&auth.scopes, Scope::Chat) {
        let e = ApiError::new(
            ErrorKind::PermissionDenied,
            "This API key's scopes do not include `model:chat`.",
        )
        .with_code("insufficient_scope");
        return fail(&mut acct, e);
    }
    let limit = state.settings().max_body_bytes;
    let chat = match read_body(body, &parts.headers, limit).await.and_then(|b| {
        let ct = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        parse_chat_request(ct, &b)
    }) {
        Ok(c) => c,
        Err(e) => return fail(&mut acct, e),
    };
    acct.requested(&chat.model);

    // Resolve and check the model first: its prices and limits size the hold.
    let model = match state.router().resolve(&chat.model) {
        Ok(m) => m,
        Err(e) => return fail(&mut acct, route_error(e)),
    };
    if let Err(u) = model.capabilities.check(&model.id, &chat) {
        return fail(&mut acct, route_error(u.into()));
    }
    acct.routed(&model.id, model.provider(), model.prices);
    let hold = state
        .platform()
        .authorize(HoldRequest {
            auth,
            prices: model.prices,
            prompt_tokens_max: budget::prompt_tokens_max(&chat),
            completion_tokens_max: budget::completion_tokens_max(&chat, model),
        })
        .await;
    match hold {
        Ok(h) => acct.hold(h),
        Err(e) => return fail(&mut acct, e.into()),
    }

    let routed = match state.router().chat(&chat).await {
        Ok(r) => r,
        Err(e) => return fail(&mut acct, route_error(e)),
    };
    acct.provider(&routed.provider);
    let head = Head {
        id,
        created,
        model: routed.model_id,
        system_fingerprint: state.settings().system_fingerprint.clone(),
    };
    if chat.stream {
        acct.headers_sent();
        let body = SseBody::new(routed.stream, acct, head, chat.include_usage);
        (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "text/event-stream"),
                (CACHE_CONTROL, "no-cache"),
            ],
            [("x-accel-buffering", "no")],
            Body::from_stream(body),
        )
            .into_response()
    } else {
        complete(routed.stream, acct, head, &chat).await
    }
}

fn fail(acct: &mut Accounting, e: ApiError) -> Response {
    acct.finish(e.kind.status().as_u16(), outcome_for(&e));
    e.into_response()
}

/// Non-streaming: collect all events, answer 201 with one `chat.completion`.
async fn complete(
    mut events: EventStream,
    mut acct: Accounting,
    head: Head,
    chat: &ChatRequest,
) -> Response {
    let mut asm = Assembler::default();
    let mut content_events = 0u64;
    let mut usage = None;
    while let Some(item) = events.next().await {
        match item {
            Ok(Event::Delta { index, delta }) => {
                if is_content_bearing(&delta) {
                    acct.first_token();
                    content_events += 1;
                }
                asm.delta(index, delta);
            }
            Ok(Event::Finish { index, reason }) => asm.finish(index, reason),
            Ok(Event::Usage(u)) => {
                usage = Some(u);
                break;
            }
            Err(e) => {
                drop(events);
                return fail(&mut acct, e.into());
            }
        }
    }
    drop(events);
    let usage = usage.unwrap_or(Usage {
        completion_tokens: content_events,
        ..Usage::default()
    });
    acct.usage(usage);
    let body = Completion {
        id: &head.id,
        system_fingerprint: &head.system_fingerprint,
        object: "chat.completion",
        choices: asm.into_choices(chat.n, chat.logprobs.is_some(), &head.id),
        created: head.created,
        model: &head.model,
        usage: UsageOut::from(&usage),
    };
    match serde_json::to_vec(&body) {
        Ok(json) => {
            acct.finish(201, outcome::OK);
            (
                StatusCode::CREATED,
                [(CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response()
        }
        Err(e) => fail(&mut acct, ApiError::internal(e)),
    }
}
