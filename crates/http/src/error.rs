//! The one error type at the HTTP edge, rendered in OpenAI's shape:
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! Architecture Invariant: every error a client sees goes through [`ApiError`].
//! A 5xx never carries internal detail (addresses, paths, upstream bodies):
//! that goes to the log, the client gets a generic message and the request id.

use axum::{
    Json,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use switchyard_core::BackendError;
use switchyard_platform::PlatformError;

/// Error categories; each has one HTTP status and one OpenAI `type` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400
    InvalidRequest,
    /// 401
    Authentication,
    /// 403
    PermissionDenied,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 413
    PayloadTooLarge,
    /// 429
    RateLimited,
    /// 500
    Internal,
    /// 502
    BadGateway,
    /// 503
    Unavailable,
    /// 504
    Timeout,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The OpenAI `error.type` string.
    pub fn type_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::PayloadTooLarge => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Internal => "server_error",
            ErrorKind::BadGateway => "upstream_error",
            ErrorKind::Unavailable => "service_unavailable_error",
            ErrorKind::Timeout => "timeout_error",
        }
    }
}

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Seconds for a `retry-after` header (429/503).
    pub retry_after: Option<u64>,
    /// `x-should-retry` header: `Some(false)` tells SDKs not to retry
    /// (out of balance, over a spending limit).
    pub should_retry: Option<bool>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
            should_retry: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// 400 naming the offending field path (e.g. `messages[2].content`).
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::InvalidRequest, message)
            .with_param(param)
            .with_code("invalid_value")
    }

    /// 401 with OpenAI's `invalid_api_key` code.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::Authentication, message).with_code("invalid_api_key")
    }

    /// 500 that hides `detail` from the client (it is logged).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(ErrorKind::Internal, "Internal server error.").with_code("internal_error")
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind.type_str(),
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.type_str())
    }
}

impl std::error::Error for ApiError {}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let public = e.public_message();
        match e {
            BackendError::InvalidRequest {
                param,
                code,
                message,
            } => ApiError {
                kind: ErrorKind::InvalidRequest,
                message,
                param,
                code: Some(code.unwrap_or_else(|| "unsupported_parameter".into())),
                retry_after: None,
                should_retry: None,
            },
            BackendError::NotConfigured { .. } => {
                ApiError::new(ErrorKind::Unavailable, public).with_code("provider_not_configured")
            }
            BackendError::Unavailable {
                ref detail,
                retry_after,
            } => {
                tracing::warn!(detail = %detail, "backend unavailable");
                let mut err =
                    ApiError::new(ErrorKind::Unavailable, public).with_code("backend_unavailable");
                err.retry_after = retry_after.map(|d| d.as_secs().max(1));
                err
            }
            BackendError::Upstream { ref detail, .. } => {
                tracing::warn!(detail = %detail, "upstream error");
                ApiError::new(ErrorKind::BadGateway, public).with_code("upstream_error")
            }
            BackendError::Timeout { ref detail } => {
                tracing::warn!(detail = %detail, "backend timeout");
                ApiError::new(ErrorKind::Timeout, public).with_code("upstream_timeout")
            }
            BackendError::Internal { ref detail } => ApiError::internal(detail),
        }
    }
}

/// The platform's errors as the client sees them (see the design's HTTP
/// conventions). Store and internal errors are logged and shown as a generic 500.
impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> Self {
        let message = e.to_string();
        match e {
            PlatformError::Store(_) | PlatformError::Internal(_) => ApiError::internal(message),
            PlatformError::InvalidInput { param, message } => ApiError::invalid(param, message),
            PlatformError::NotFound(_) => {
                ApiError::new(ErrorKind::NotFound, message).with_code("not_found")
            }
            PlatformError::Forbidden { code, .. } => {
                ApiError::new(ErrorKind::PermissionDenied, message).with_code(code)
            }
            PlatformError::SignupClosed => {
                ApiError::new(ErrorKind::PermissionDenied, message).with_code("signup_closed")
            }
            PlatformError::InviteRequired => {
                ApiError::new(ErrorKind::PermissionDenied, message).with_code("invite_required")
            }
            PlatformError::EmailTaken => {
                ApiError::new(ErrorKind::Conflict, message).with_code("email_taken")
            }
            PlatformError::InvalidCredentials => {
                ApiError::new(ErrorKind::Authentication, message).with_code("invalid_credentials")
            }
            PlatformError::AccountDisabled => {
                ApiError::new(ErrorKind::PermissionDenied, message).with_code("account_disabled")
            }
            PlatformError::LoginThrottled { retry_after_secs } => {
                let mut err =
                    ApiError::new(ErrorKind::RateLimited, message).with_code("login_throttled");
                err.retry_after = Some(retry_after_secs.max(1));
                err
            }
            PlatformError::InsufficientBalance { .. } => {
                let mut err = ApiError::new(ErrorKind::PermissionDenied, message)
                    .with_code("insufficient_balance");
                err.should_retry = Some(false);
                err
            }
            PlatformError::KeyLimitExceeded { .. } => {
                let mut err = ApiError::new(ErrorKind::PermissionDenied, message)
                    .with_code("key_limit_exceeded");
                err.should_retry = Some(false);
                err
            }
            PlatformError::RateLimited {
                retry_after_secs, ..
            } => {
                let mut err =
                    ApiError::new(ErrorKind::RateLimited, message).with_code("rate_limit_exceeded");
                err.retry_after = Some(retry_after_secs.max(1));
                err
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.kind.status(), Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        if let Some(retry) = self.should_retry {
            resp.headers_mut().insert(
                "x-should-retry",
                HeaderValue::from_static(if retry { "true" } else { "false" }),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_openai_shape_with_param() {
        let e = ApiError::invalid("messages[2].content", "bad content");
        let b = e.body();
        assert_eq!(b["error"]["message"], "bad content");
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(b["error"]["param"], "messages[2].content");
        assert_eq!(b["error"]["code"], "invalid_value");
        assert_eq!(e.kind.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn null_param_and_code_are_present_as_null() {
        let b = ApiError::new(ErrorKind::NotFound, "nope").body();
        assert!(b["error"].get("param").is_some_and(|v| v.is_null()));
        assert!(b["error"].get("code").is_some_and(|v| v.is_null()));
    }

    #[test]
    fn backend_5xx_does_not_leak_detail() {
        let e: ApiError = BackendError::Upstream {
            status: Some(500),
            detail: "10.0.0.5:8000 said boom".into(),
        }
        .into();
        assert_eq!(e.kind, ErrorKind::BadGateway);
        assert!(!e.message.contains("10.0.0.5"), "{}", e.message);
        let e: ApiError = BackendError::Internal {
            detail: "/var/lib/secret".into(),
        }
        .into();
        assert_eq!(e.kind.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("/var/lib"));
        let e: ApiError = BackendError::Timeout {
            detail: "idle 30s at http://internal".into(),
        }
        .into();
        assert_eq!(e.kind.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(!e.message.contains("internal"));
    }

    #[test]
    fn unavailable_sets_retry_after() {
        let e: ApiError = BackendError::Unavailable {
            detail: "429".into(),
            retry_after: Some(std::time::Duration::from_millis(1500)),
        }
        .into();
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }

    #[test]
    fn invalid_request_from_backend_keeps_param() {
        let e: ApiError = BackendError::InvalidRequest {
            param: Some("tools".into()),
            code: None,
            message: "no tools here".into(),
        }
        .into();
        assert_eq!(e.kind.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.param.as_deref(), Some("tools"));
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
    }

    #[test]
    fn platform_errors_map_to_status_code_and_headers() {
        use switchyard_platform::{Nanos, RateKind, Retention};
        let resp = ApiError::from(PlatformError::InsufficientBalance {
            available: Nanos(1),
            needed: Nanos(2),
        })
        .into_response();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()["x-should-retry"], "false");
        let e = ApiError::from(PlatformError::KeyLimitExceeded {
            retention: Retention::Day,
            threshold: Nanos(10),
            spent: Nanos(9),
            needed: Nanos(2),
            resets_at: None,
        });
        assert_eq!(e.code.as_deref(), Some("key_limit_exceeded"));
        assert_eq!(e.should_retry, Some(false));
        let resp = ApiError::from(PlatformError::RateLimited {
            kind: RateKind::Requests,
            limit: 5,
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "7");
        let e = ApiError::from(PlatformError::invalid("limit", "bad"));
        assert_eq!(
            (e.kind, e.param.as_deref()),
            (ErrorKind::InvalidRequest, Some("limit"))
        );
        assert_eq!(
            ApiError::from(PlatformError::NotFound("x".into())).kind,
            ErrorKind::NotFound
        );
        let e = ApiError::from(PlatformError::Forbidden {
            code: "wrong_key_kind",
            message: "m".into(),
        });
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::PermissionDenied, Some("wrong_key_kind"))
        );
        assert_eq!(
            ApiError::from(PlatformError::EmailTaken).kind.status(),
            StatusCode::CONFLICT
        );
        let e = ApiError::from(PlatformError::Internal("db at /var/secret".into()));
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(!e.message.contains("secret"));
    }
}
