//! `POST /v1/chat/completions`: validate, route, answer (JSON or SSE), account.

mod assemble;
mod sse;
pub(crate) mod wire;

use std::time::Instant;

use axum::{
    Extension,
    body::Body,
    extract::{Request, State},
    http::{
        HeaderMap, StatusCode,
        header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use switchyard_core::{ChatRequest, Event, EventStream, Usage};
use switchyard_router::RouteError;

use crate::{
    ApiError, AppState, ErrorKind,
    accounting::{Accounting, outcome},
    auth::AuthedKey,
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
        ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => outcome::INVALID_REQUEST,
        ErrorKind::NotFound => outcome::MODEL_NOT_FOUND,
        ErrorKind::BadGateway => outcome::UPSTREAM_ERROR,
        ErrorKind::Unavailable | ErrorKind::RateLimited => outcome::UNAVAILABLE,
        ErrorKind::Timeout => outcome::TIMEOUT,
        ErrorKind::Internal | ErrorKind::Authentication | ErrorKind::PermissionDenied => {
            outcome::INTERNAL_ERROR
        }
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

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    key: Option<Extension<AuthedKey>>,
    rid: Option<Extension<RequestId>>,
    req: Request,
) -> Response {
    let start = Instant::now();
    // The completion id doubles as the request id when the client sent none.
    let (id, created) = match rid {
        Some(Extension(r)) if r.generated => (r.value, r.created),
        _ => {
            let created = unix_now();
            (completion_id(created), created)
        }
    };
    let mut acct = Accounting::new(
        state.clone(),
        id.clone(),
        key.map(|Extension(k)| k.key_id),
        start,
    );
    let (parts, body) = req.into_parts();
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

    let routed = match state.router().chat(&chat).await {
        Ok(r) => r,
        Err(e) => return fail(&mut acct, route_error(e)),
    };
    acct.routed(&routed.model_id, &routed.provider, routed.prices);
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
