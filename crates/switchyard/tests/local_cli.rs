//! The binary's local-engine commands: tokenize, generate, bench, and `serve --model` answering
//! the seed page's request end to end on a fixture model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_gguf::GgmlType;
use switchyard_local::fixture::{FixtureSpec, write_fixture};
use switchyard_local::{GenerateOptions, LoadOptions, LocalModel, generate, sampling_params};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

fn vocab(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vocab")
        .join(name)
}

/// The qwen2 Q8_0 fixture, written once per run under a private name and renamed.
fn fixture() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap();
    let dir = std::env::temp_dir().join("switchyard-cli-fixtures-v1");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny-qwen2-q8_0.gguf");
    if !path.exists() {
        let tmp = dir.join(format!("tiny.{}.tmp", std::process::id()));
        let spec = FixtureSpec::tiny("qwen2", GgmlType::Q8_0);
        write_fixture(&spec, &vocab("ggml-vocab-qwen2.gguf"), &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok_json(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn tokenize_reproduces_llama_cpp_vectors() {
    let v = vocab("ggml-vocab-qwen2.gguf");
    let inp = std::fs::read_to_string(vocab("ggml-vocab-qwen2.gguf.inp")).unwrap();
    let out = std::fs::read_to_string(vocab("ggml-vocab-qwen2.gguf.out")).unwrap();
    let texts: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
    let expected: Vec<&str> = out.lines().collect();
    let mut checked = 0;
    for (text, line) in texts.iter().zip(&expected).take(12) {
        let ids = ok_json(&run(&[
            "tokenize",
            "--model",
            v.to_str().unwrap(),
            "--json",
            "--no-bos",
            "--",
            text,
        ]));
        let want: Vec<u64> = line
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        let got: Vec<u64> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(got, want, "text {text:?}");
        checked += 1;
    }
    assert_eq!(checked, 12);
    // Plain output: ids separated by spaces.
    let plain = run(&[
        "tokenize",
        "--model",
        v.to_str().unwrap(),
        "--no-bos",
        "Hello world",
    ]);
    assert!(plain.status.success());
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), "9707 1879");
}

#[test]
fn generate_json_is_greedy_and_matches_the_library() {
    let f = fixture();
    let args = [
        "generate",
        "--model",
        f.to_str().unwrap(),
        "--prompt",
        "Once upon a time",
        "--max-tokens",
        "10",
        "--ignore-eos",
        "--json",
    ];
    let a = ok_json(&run(&args));
    let b = ok_json(&run(&args));
    assert_eq!(a, b, "greedy output must be reproducible");
    let lm = LocalModel::load(&f, &LoadOptions::default()).unwrap();
    let prompt = lm
        .tokenizer()
        .encode("Once upon a time", true, true)
        .unwrap();
    let got_prompt: Vec<u32> = serde_json::from_value(a["prompt_tokens"].clone()).unwrap();
    assert_eq!(got_prompt, prompt);
    let tokens: Vec<u32> = serde_json::from_value(a["tokens"].clone()).unwrap();
    assert_eq!(tokens.len(), 10);
    assert_eq!(a["text"].as_str().unwrap(), lm.tokenizer().decode(&tokens));
    let opts = GenerateOptions {
        sampling: sampling_params(&Default::default(), None),
        max_tokens: 10,
        n: 1,
        stop: Vec::new(),
        ignore_eos: true,
    };
    let mut greedy = opts.clone();
    greedy.sampling.temperature = 0.0;
    let g = generate(&lm, &prompt, &greedy, &mut |_| true).unwrap();
    assert_eq!(g.tokens[0], tokens);
}

#[test]
fn bench_json_reports_speeds_and_errors_exit_cleanly() {
    let f = fixture();
    let v = ok_json(&run(&[
        "bench",
        "--model",
        f.to_str().unwrap(),
        "-p",
        "16",
        "-n",
        "4",
        "-r",
        "2",
        "-t",
        "1",
        "--json",
    ]));
    assert!(v["pp_tps"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["tg_tps"].as_f64().unwrap() > 0.0, "{v}");
    let dir = std::env::temp_dir().join(format!("switchyard-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\x00\x00\x00truncated").unwrap();
    for cmd in ["tokenize", "generate", "bench"] {
        for file in [dir.join("missing.gguf"), bad.clone()] {
            let mut args = vec![cmd, "--model", file.to_str().unwrap()];
            if cmd == "generate" {
                args.extend(["--prompt", "hi"]);
            }
            if cmd == "tokenize" {
                args.push("hi");
            }
            let out = run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{cmd} {file:?}");
            assert!(
                stderr.contains("error:") && stderr.contains(file.to_str().unwrap()),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_model_answers_the_seed_request() {
    let f = fixture();
    let data = std::env::temp_dir().join(format!("switchyard-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let d = data.to_str().unwrap();
    let key = ok_json(&run(&[
        "keys",
        "create",
        "--name",
        "t",
        "--json",
        "--data-dir",
        d,
    ]));
    let key = key["key"].as_str().unwrap().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new(BIN)
            .args([
                "serve",
                "--data-dir",
                d,
                "--listen",
                &listen,
                "--model",
                f.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let t0 = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = serde_json::json!({
        "model": "tiny-qwen2-q8_0",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 8,
    });
    let resp = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["model"], "tiny-qwen2-q8_0");
    let lm = LocalModel::load(&f, &LoadOptions::default()).unwrap();
    let msgs = [switchyard_core::Message::text(
        switchyard_core::Role::User,
        "Hello",
    )];
    let prompt = lm.encode_chat(&lm.render_chat(&msgs).unwrap()).unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], prompt.len());
    let finish = v["choices"][0]["finish_reason"].as_str().unwrap();
    let completion = v["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=8).contains(&completion), "{v}");
    assert!(
        finish == "length" && completion == 8 || finish == "stop",
        "{v}"
    );
    assert_eq!(
        v["usage"]["total_tokens"].as_u64().unwrap(),
        prompt.len() as u64 + completion
    );
    // Streaming: content chunks, a finish reason and usage before [DONE].
    let body = serde_json::json!({
        "model": "tiny-qwen2-q8_0",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 6,
        "temperature": 0,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let resp = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let sse = resp.text().await.unwrap();
    let events: Vec<&str> = sse
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{sse}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let usage = chunks
        .iter()
        .find_map(|c| c.get("usage").filter(|u| !u.is_null()))
        .unwrap();
    assert_eq!(usage["prompt_tokens"], prompt.len());
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"].is_string()),
        "{sse}"
    );
    // Over the context: 400 naming max_tokens.
    let body = serde_json::json!({
        "model": "tiny-qwen2-q8_0",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 100000,
    });
    let resp = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let e: Value = resp.json().await.unwrap();
    assert_eq!(status, 400, "{e}");
    let _ = std::fs::remove_dir_all(&data);
}
