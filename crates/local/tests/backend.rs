#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use switchyard_core::{
    Backend, BackendError, ChatRequest, Event, FinishReason, Message, ModelTarget, ResponseFormat,
    Role, Tool, Usage,
};
use switchyard_local::{LocalBackend, LocalModel};

fn backend(lm: Arc<LocalModel>) -> (LocalBackend, ModelTarget) {
    let mut b = LocalBackend::new("local");
    b.insert("fixture", lm.clone()).unwrap();
    let target = ModelTarget {
        model_id: "fixture".into(),
        upstream_model: "fixture".into(),
        context_length: Some(lm.context_length() as u32),
        capabilities: LocalModel::capabilities(),
    };
    (b, target)
}

fn request(max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(
        "fixture",
        vec![
            Message::text(Role::System, "You are a helpful assistant."),
            Message::text(Role::User, "Tell me a story about a robot."),
        ],
    );
    r.max_tokens = max_tokens;
    r
}

struct Collected {
    text: Vec<String>,
    finish: Vec<Option<FinishReason>>,
    usage: Option<Usage>,
    logprob_tokens: Vec<Vec<String>>,
}

async fn collect(b: &LocalBackend, t: &ModelTarget, r: &ChatRequest) -> Collected {
    let n = r.n as usize;
    let mut c = Collected {
        text: vec![String::new(); n],
        finish: vec![None; n],
        usage: None,
        logprob_tokens: vec![Vec::new(); n],
    };
    let mut s = b.chat(t, r).await.unwrap();
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            Event::Delta { index, delta } => {
                assert!(c.finish[index as usize].is_none(), "delta after finish");
                assert!(c.usage.is_none());
                c.text[index as usize] += delta.content.as_deref().unwrap_or("");
                for lp in delta.logprobs {
                    assert!(lp.logprob <= 0.0);
                    assert_eq!(lp.bytes.as_deref(), Some(lp.token.as_bytes()));
                    c.logprob_tokens[index as usize].push(lp.token);
                }
            }
            Event::Finish { index, reason } => c.finish[index as usize] = Some(reason),
            Event::Usage(u) => c.usage = Some(u),
        }
    }
    c
}

fn greedy(mut r: ChatRequest) -> ChatRequest {
    r.sampling.temperature = Some(0.0);
    r
}

#[tokio::test]
async fn length_finish_exact_usage_and_text_matches_tokens() {
    let lm = common::qwen();
    let (b, t) = backend(lm.clone());
    let mut r = greedy(request(12));
    // Keep the model from ending early so the budget decides.
    r.sampling.logit_bias = lm
        .tokenizer()
        .eog_tokens()
        .iter()
        .map(|&id| (id, -100.0))
        .collect();
    r.logprobs = Some(2);
    let c = collect(&b, &t, &r).await;
    assert_eq!(c.finish[0], Some(FinishReason::Length));
    let rendered = lm.render_chat(&r.messages).unwrap();
    assert!(
        rendered.ends_with("<|im_start|>assistant\n"),
        "{rendered:?}"
    );
    let prompt = lm.encode_chat(&rendered).unwrap();
    let u = c.usage.unwrap();
    assert_eq!(u.prompt_tokens, prompt.len() as u64);
    assert_eq!(u.completion_tokens, 12);
    assert_eq!((u.cached_tokens, u.reasoning_tokens), (0, 0));
    // Same tokens through the engine directly: the streamed text is their detokenisation.
    let opts = switchyard_local::GenerateOptions {
        sampling: switchyard_local::sampling_params(&r.sampling, None),
        max_tokens: 12,
        n: 1,
        stop: Vec::new(),
        ignore_eos: false,
    };
    let g = switchyard_local::generate(&lm, &prompt, &opts, &mut |_| true).unwrap();
    assert_eq!(g.tokens[0].len(), 12);
    assert_eq!(c.text[0], lm.tokenizer().decode(&g.tokens[0]));
    assert_eq!(c.logprob_tokens[0].len(), 12);
}

#[tokio::test]
async fn greedy_is_deterministic_and_seed_reproduces() {
    let (b, t) = backend(common::llama());
    let r = greedy(request(16));
    let a = collect(&b, &t, &r).await;
    let a2 = collect(&b, &t, &r).await;
    assert_eq!(a.text, a2.text);
    assert!(!a.text[0].is_empty());
    let mut s = request(16);
    s.sampling.temperature = Some(1.0);
    s.sampling.seed = Some(1234);
    s.n = 3;
    let x = collect(&b, &t, &s).await;
    let y = collect(&b, &t, &s).await;
    assert_eq!(x.text, y.text);
    assert!(x.finish.iter().all(Option::is_some));
    // Choices draw from independent streams.
    assert!(
        x.text[0] != x.text[1] || x.text[1] != x.text[2],
        "{:?}",
        x.text
    );
    assert_eq!(
        x.usage.unwrap().completion_tokens,
        y.usage.unwrap().completion_tokens
    );
}

#[tokio::test]
async fn stop_string_is_cut_and_never_emitted() {
    let lm = common::qwen();
    let (b, t) = backend(lm.clone());
    let mut r = greedy(request(24));
    r.sampling.logit_bias = lm
        .tokenizer()
        .eog_tokens()
        .iter()
        .map(|&id| (id, -100.0))
        .collect();
    let full = collect(&b, &t, &r).await.text[0].clone();
    // Stop at a piece of the greedy text that starts after its first few characters.
    let chars: Vec<char> = full.chars().collect();
    assert!(chars.len() > 8, "{full:?}");
    let start = chars.len() / 2;
    let stop: String = chars[start..start + 3].iter().collect();
    let expected_prefix: String = full[..full.find(&stop).unwrap()].to_string();
    r.stop = vec![stop.clone()];
    let c = collect(&b, &t, &r).await;
    assert_eq!(c.finish[0], Some(FinishReason::Stop));
    assert_eq!(c.text[0], expected_prefix);
    assert!(!c.text[0].contains(&stop));
    assert!(c.usage.unwrap().completion_tokens < 24);
}

#[tokio::test]
async fn context_overflow_and_unsupported_params_are_invalid_requests() {
    let lm = common::qwen();
    let (b, t) = backend(lm.clone());
    let r = request(lm.context_length() as u32);
    let err = b.chat(&t, &r).await.err().unwrap();
    match err {
        BackendError::InvalidRequest { param, code, .. } => {
            assert_eq!(param.as_deref(), Some("max_tokens"));
            assert_eq!(code.as_deref(), Some("context_length_exceeded"));
        }
        other => panic!("{other:?}"),
    }
    let long = ChatRequest::new(
        "fixture",
        vec![Message::text(Role::User, "word ".repeat(400))],
    );
    match b.chat(&t, &long).await.err().unwrap() {
        BackendError::InvalidRequest { param, code, .. } => {
            assert_eq!(param.as_deref(), Some("messages"));
            assert_eq!(code.as_deref(), Some("context_length_exceeded"));
        }
        other => panic!("{other:?}"),
    }
    let mut tools = request(4);
    tools.tools = vec![Tool {
        name: "f".into(),
        description: None,
        parameters: None,
        strict: None,
    }];
    let mut schema = request(4);
    schema.response_format = Some(ResponseFormat::JsonSchema {
        name: "x".into(),
        description: None,
        schema: None,
        strict: None,
    });
    let mut pred = request(4);
    pred.prediction = Some("abc".into());
    for (req, name) in [
        (tools, "tools"),
        (schema, "response_format"),
        (pred, "prediction"),
    ] {
        match b.chat(&t, &req).await.err().unwrap() {
            BackendError::InvalidRequest { param, message, .. } => {
                assert_eq!(param.as_deref(), Some(name));
                assert!(
                    message.contains("not supported by the local engine yet"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn dropping_the_stream_stops_generation() {
    let lm = common::qwen();
    let (b, t) = backend(lm.clone());
    let mut r = greedy(request(200));
    r.sampling.logit_bias = lm
        .tokenizer()
        .eog_tokens()
        .iter()
        .map(|&id| (id, -100.0))
        .collect();
    let mut s = b.chat(&t, &r).await.unwrap();
    assert!(matches!(s.next().await, Some(Ok(Event::Delta { .. }))));
    assert_eq!(b.active_generations(), 1);
    drop(s);
    let t0 = Instant::now();
    while b.active_generations() > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "generation kept running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
