#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `OpenAiProvider` against the testkit's mock upstream: event sequences,
//! usage pass-through, every failure behaviour, retries and cancellation.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_core::{
    Backend, BackendError, Capabilities, ChatRequest, Event, EventStream, FinishReason, Message,
    ModelTarget, Role, Tool, Usage,
};
use switchyard_provider::{OpenAiProvider, ProviderSettings, RetryPolicy, Timeouts};
use switchyard_testkit::MockUpstream;

const GUARD: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(500);

fn settings(base_url: &str) -> ProviderSettings {
    let mut s = ProviderSettings::new("mock", base_url);
    s.api_key = Some("sk-mock-secret".into());
    s.api_key_env = Some("MOCK_API_KEY".into());
    s.headers
        .push(("x-title".into(), "switchyard-tests".into()));
    s.timeouts = Timeouts {
        connect: SHORT,
        first_byte: SHORT,
        idle: SHORT,
    };
    s.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    s
}

fn provider(mock: &MockUpstream) -> OpenAiProvider {
    OpenAiProvider::new(settings(&mock.base_url())).unwrap()
}

fn target(upstream_model: &str) -> ModelTarget {
    ModelTarget {
        model_id: format!("test/{upstream_model}"),
        upstream_model: upstream_model.into(),
        context_length: None,
        capabilities: Capabilities::default(),
    }
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new(
        "test/model",
        vec![
            Message::text(Role::System, "be brief"),
            Message::text(Role::User, text),
        ],
    )
}

async fn start(
    p: &OpenAiProvider,
    model: &str,
    req: &ChatRequest,
) -> Result<EventStream, BackendError> {
    tokio::time::timeout(GUARD, p.chat(&target(model), req))
        .await
        .expect("chat() hung")
}

/// All events, and the error that ended the stream (if any).
async fn drain(mut s: EventStream) -> (Vec<Event>, Option<BackendError>) {
    tokio::time::timeout(GUARD, async {
        let mut events = Vec::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(e) => events.push(e),
                Err(e) => {
                    assert!(s.next().await.is_none(), "nothing may follow an error");
                    return (events, Some(e));
                }
            }
        }
        (events, None)
    })
    .await
    .expect("stream hung")
}

async fn run_ok(p: &OpenAiProvider, model: &str, req: &ChatRequest) -> Vec<Event> {
    let (events, err) = drain(start(p, model, req).await.unwrap()).await;
    assert_eq!(err, None);
    events
}

fn content(events: &[Event], index: u32) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { index: i, delta } if *i == index => delta.content.clone(),
            _ => None,
        })
        .collect()
}

fn finishes(events: &[Event]) -> Vec<(u32, FinishReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finish { index, reason } => Some((*index, reason.clone())),
            _ => None,
        })
        .collect()
}

fn usage(events: &[Event]) -> Usage {
    match events.last() {
        Some(Event::Usage(u)) => *u,
        other => panic!("last event must be usage, got {other:?}"),
    }
}

async fn settled(mock: &MockUpstream) {
    assert!(
        mock.eventually(Duration::from_secs(3), |m| m.in_flight() == 0)
            .await,
        "the upstream request was left hanging ({} in flight)",
        mock.in_flight()
    );
}

#[tokio::test]
async fn streams_content_then_finish_then_usage_with_cached_and_reasoning() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let events = run_ok(&p, "grok-beta", &request("hello big world")).await;
    assert_eq!(content(&events, 0), "world big hello");
    assert_eq!(finishes(&events), vec![(0, FinishReason::Stop)]);
    // prompt = 5 words ("be brief" + 3), cached = 5/2; completion = 3, reasoning = 3/2.
    assert_eq!(
        usage(&events),
        Usage {
            prompt_tokens: 5,
            cached_tokens: 2,
            completion_tokens: 3,
            reasoning_tokens: 1
        }
    );
    let usages = events
        .iter()
        .filter(|e| matches!(e, Event::Usage(_)))
        .count();
    assert_eq!(usages, 1);
    // The finish comes after all content.
    let finish_at = events
        .iter()
        .position(|e| matches!(e, Event::Finish { .. }))
        .unwrap();
    assert!(
        events[finish_at..]
            .iter()
            .all(|e| !matches!(e, Event::Delta { .. }))
    );
}

#[tokio::test]
async fn sends_model_stream_options_auth_and_extra_headers() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let mut req = request("hi");
    req.sampling.temperature = Some(0.5);
    req.sampling.top_k = Some(20);
    req.stop = vec!["END".into()];
    run_ok(&p, "grok-beta", &req).await;
    let body = mock.last_request().unwrap();
    assert_eq!(body["model"], "grok-beta");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["temperature"], json!(0.5));
    assert_eq!(body["top_k"], 20);
    assert_eq!(body["stop"], json!(["END"]));
    assert!(body.get("top_p").is_none());
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(
        mock.last_authorization().as_deref(),
        Some("Bearer sk-mock-secret")
    );
    assert_eq!(
        mock.last_header("x-title").as_deref(),
        Some("switchyard-tests")
    );
    assert_eq!(
        mock.last_header("accept").as_deref(),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn n_choices_and_length_finish() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let mut req = request("a b c d");
    req.n = 2;
    req.max_tokens = 2;
    let events = run_ok(&p, "m", &req).await;
    assert_eq!(content(&events, 0), "d c");
    assert_eq!(content(&events, 1), "d c");
    let mut f = finishes(&events);
    f.sort_by_key(|(i, _)| *i);
    assert_eq!(
        f,
        vec![(0, FinishReason::Length), (1, FinishReason::Length)]
    );
    assert_eq!(usage(&events).completion_tokens, 4);
    assert_eq!(mock.last_request().unwrap()["n"], 2);
}

#[tokio::test]
async fn reasoning_and_refusal_deltas() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let events = run_ok(&p, "reasoning", &request("x y")).await;
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { delta, .. } => delta.reasoning.clone(),
            _ => None,
        })
        .collect();
    // The mock alternates `reasoning_content` and `reasoning`; both must arrive.
    assert_eq!(reasoning, "Reversing the words.");
    assert_eq!(content(&events, 0), "y x");

    let events = run_ok(&p, "refuse", &request("x y")).await;
    let refusal: String = events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { delta, .. } => delta.refusal.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(refusal, "I cannot do that.");
    assert_eq!(content(&events, 0), "");
}

#[tokio::test]
async fn tool_call_deltas() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let mut req = request("please call the tool");
    req.tools = vec![Tool {
        name: "lookup".into(),
        description: Some("Looks things up".into()),
        parameters: Some(json!({"type": "object", "properties": {"text": {"type": "string"}}})),
        strict: None,
    }];
    let events = run_ok(&p, "m", &req).await;
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { delta, .. } => Some(delta.tool_calls.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        calls.len() >= 2,
        "arguments must stream in pieces: {calls:?}"
    );
    assert!(calls.iter().all(|c| c.index == 0));
    assert_eq!(calls[0].id.as_deref(), Some("call_mock_0"));
    assert_eq!(calls[0].name.as_deref(), Some("lookup"));
    let args: String = calls.iter().filter_map(|c| c.arguments.clone()).collect();
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args["text"], "please call the tool");
    assert_eq!(finishes(&events), vec![(0, FinishReason::ToolCalls)]);
    let sent = mock.last_request().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "lookup");
}

#[tokio::test]
async fn logprobs_with_top_alternatives() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let mut req = request("one two");
    req.logprobs = Some(2);
    let events = run_ok(&p, "m", &req).await;
    let lps: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { delta, .. } => Some(delta.logprobs.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(lps.len(), 2);
    assert_eq!(lps[0].token, "two");
    assert_eq!(lps[1].token, " one");
    assert_eq!(lps[1].bytes.as_deref(), Some(" one".as_bytes()));
    assert_eq!(lps[1].top.len(), 2);
    assert_eq!(lps[1].top[0].token, " one");
    assert_eq!(lps[1].top[1].token, "alt1");
    assert!(lps[1].top[1].logprob < lps[1].top[0].logprob);
    let sent = mock.last_request().unwrap();
    assert_eq!(sent["logprobs"], true);
    assert_eq!(sent["top_logprobs"], 2);
}

#[tokio::test]
async fn awkward_but_valid_sse_parses_like_plain_sse() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let plain = run_ok(&p, "m", &request("alpha beta gamma")).await;
    let quirky = run_ok(&p, "quirky-sse", &request("alpha beta gamma")).await;
    assert_eq!(plain, quirky);
}

#[tokio::test]
async fn missing_usage_is_estimated() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    // "be brief" (8 chars) + "one two three" (13 chars) = 21 chars -> ceil(21/4) = 6.
    let events = run_ok(&p, "no-usage", &request("one two three")).await;
    assert_eq!(content(&events, 0), "three two one");
    assert_eq!(
        usage(&events),
        Usage {
            prompt_tokens: 6,
            cached_tokens: 0,
            completion_tokens: 3,
            reasoning_tokens: 0
        }
    );
}

#[tokio::test]
async fn not_configured_names_the_env_var_and_sends_nothing() {
    let mock = MockUpstream::start().await;
    let mut s = settings(&mock.base_url());
    s.name = "xai".into();
    s.api_key = None;
    s.api_key_env = Some("XAI_API_KEY".into());
    let p = OpenAiProvider::new(s).unwrap();
    let mut t = target("grok-beta");
    t.model_id = "x-ai/grok-beta".into();
    let err = tokio::time::timeout(GUARD, p.chat(&t, &request("hi")))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert_eq!(
        err,
        BackendError::NotConfigured {
            message: "Model 'x-ai/grok-beta' is served by provider 'xai', which has no API key: \
                      set XAI_API_KEY (or api_key_env / api_key in [[providers]]) and restart"
                .into()
        }
    );
    assert_eq!(mock.request_count(), 0);

    // A keyless upstream (e.g. local vLLM) works when it is declared so.
    let mut s = settings(&mock.base_url());
    s.api_key = None;
    s.requires_api_key = false;
    let p = OpenAiProvider::new(s).unwrap();
    run_ok(&p, "m", &request("hi")).await;
    assert_eq!(mock.last_authorization(), None);
}

#[tokio::test]
async fn http_500_is_retried_then_upstream_error() {
    let mock = MockUpstream::start().await;
    let err = start(&provider(&mock), "fail-500", &request("x"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            BackendError::Upstream {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.request_count(), 3, "1 attempt + 2 retries");
    settled(&mock).await;
}

#[tokio::test]
async fn http_429_is_retried_then_unavailable_with_retry_after() {
    let mock = MockUpstream::start().await;
    let started = std::time::Instant::now();
    let err = start(&provider(&mock), "fail-429", &request("x"))
        .await
        .err()
        .unwrap();
    match err {
        BackendError::Unavailable { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.request_count(), 3);
    // retry-after: 1 is honoured only up to the 50 ms cap.
    assert!(started.elapsed() < Duration::from_millis(900));
    settled(&mock).await;
}

#[tokio::test]
async fn client_errors_are_invalid_request_and_not_retried() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let err = start(&p, "fail-400", &request("x")).await.err().unwrap();
    match &err {
        BackendError::InvalidRequest { message, .. } => {
            assert!(
                message.starts_with("Upstream provider rejected the request: "),
                "{message}"
            );
            assert!(
                message.contains("'messages' parameter was rejected"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.request_count(), 1);
    for model in ["fail-404", "fail-422"] {
        let err = start(&p, model, &request("x")).await.err().unwrap();
        assert!(
            matches!(err, BackendError::InvalidRequest { .. }),
            "{err:?}"
        );
    }
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn credential_errors_are_upstream_errors_without_retry_or_leak() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    for (model, code) in [("fail-401", 401), ("fail-403", 403)] {
        let err = start(&p, model, &request("x")).await.err().unwrap();
        assert!(
            matches!(err, BackendError::Upstream { status: Some(c), .. } if c == code),
            "{err:?}"
        );
        assert!(!err.public_message().contains("mock"));
        assert!(!err.to_string().contains("sk-mock-secret"));
    }
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let p = OpenAiProvider::new(settings(&format!("http://{addr}/v1"))).unwrap();
    let err = start(&p, "m", &request("x")).await.err().unwrap();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn hang_times_out_without_retry_and_releases_the_request() {
    let mock = MockUpstream::start().await;
    let started = std::time::Instant::now();
    let err = start(&provider(&mock), "hang", &request("x"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BackendError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(mock.request_count(), 1);
    settled(&mock).await;
}

#[tokio::test]
async fn slow_first_byte_within_and_past_the_timeout() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let events = run_ok(&p, "slow-first-byte-50", &request("a b")).await;
    assert_eq!(content(&events, 0), "b a");
    let err = start(&p, "slow-first-byte-2000", &request("a b"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BackendError::Timeout { .. }), "{err:?}");
    settled(&mock).await;
}

#[tokio::test]
async fn invalid_json_is_an_error_inside_the_stream() {
    let mock = MockUpstream::start().await;
    let s = start(&provider(&mock), "invalid-json", &request("x"))
        .await
        .unwrap();
    let (events, err) = drain(s).await;
    assert!(events.is_empty());
    assert!(
        matches!(err, Some(BackendError::Upstream { status: None, .. })),
        "{err:?}"
    );
    settled(&mock).await;
}

#[tokio::test]
async fn cut_stream_is_an_error_inside_the_stream_and_not_retried() {
    let mock = MockUpstream::start().await;
    let s = start(&provider(&mock), "cut-stream", &request("a b c d e"))
        .await
        .unwrap();
    let (events, err) = drain(s).await;
    assert_eq!(
        content(&events, 0),
        "e",
        "the chunk sent before the cut arrives"
    );
    assert!(finishes(&events).is_empty());
    assert!(
        matches!(err, Some(BackendError::Upstream { status: None, .. })),
        "{err:?}"
    );
    assert_eq!(mock.request_count(), 1, "no retry after the first byte");
    settled(&mock).await;
}

#[tokio::test]
async fn stall_mid_stream_hits_the_idle_timeout_and_drops_the_upstream() {
    let mock = MockUpstream::start().await;
    let s = start(&provider(&mock), "stall-mid-stream", &request("a b c"))
        .await
        .unwrap();
    let (events, err) = drain(s).await;
    assert_eq!(content(&events, 0), "c");
    assert!(matches!(err, Some(BackendError::Timeout { .. })), "{err:?}");
    assert!(
        mock.eventually(Duration::from_secs(3), |m| m.cancelled_streams() == 1)
            .await
    );
    assert_eq!(mock.request_count(), 1);
    settled(&mock).await;
}

#[tokio::test]
async fn error_event_mid_stream() {
    let mock = MockUpstream::start().await;
    let s = start(&provider(&mock), "error-event", &request("a b c"))
        .await
        .unwrap();
    let (events, err) = drain(s).await;
    assert_eq!(content(&events, 0), "c");
    assert!(
        matches!(
            err,
            Some(BackendError::Upstream {
                status: Some(502),
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn flaky_upstream_succeeds_after_retries() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let events = run_ok(&p, "flaky-2", &request("x y")).await;
    assert_eq!(content(&events, 0), "y x");
    assert_eq!(mock.request_count(), 3);

    // More failures than retries: 503 is reported as unavailable.
    let err = start(&p, "flaky-5", &request("x")).await.err().unwrap();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert_eq!(mock.request_count(), 6);
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_upstream_request() {
    let mock = MockUpstream::start().await;
    let p = provider(&mock);
    let mut s = start(&p, "slow-stream-50", &request("a b c d e f g h i j"))
        .await
        .unwrap();
    let first = tokio::time::timeout(GUARD, s.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(Event::Delta { .. }))), "{first:?}");
    drop(s);
    assert!(
        mock.eventually(Duration::from_secs(3), |m| m.cancelled_streams() == 1)
            .await,
        "the mock never saw the cancellation"
    );
    assert_eq!(mock.completed_streams(), 0);
    settled(&mock).await;
}

#[tokio::test]
async fn slow_stream_within_the_idle_timeout_completes() {
    let mock = MockUpstream::start().await;
    let events = run_ok(&provider(&mock), "slow-stream-30", &request("a b c")).await;
    assert_eq!(content(&events, 0), "c b a");
    assert!(
        mock.eventually(Duration::from_secs(2), |m| m.completed_streams() == 1)
            .await
    );
    assert_eq!(mock.cancelled_streams(), 0);
}
