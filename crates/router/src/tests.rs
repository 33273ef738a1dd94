use std::sync::Mutex;

use futures::StreamExt;
use switchyard_core::{Capabilities, Event, Message, ModelTarget, Role, Usage};

use super::*;

/// A scripted backend fixture: fails with the given errors first, then streams
/// one usage event; records the upstream model names it was asked for.
struct Scripted {
    name: String,
    failures: Mutex<Vec<BackendError>>,
    seen: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(name: &str, failures: Vec<BackendError>) -> Arc<Self> {
        Arc::new(Scripted {
            name: name.into(),
            failures: Mutex::new(failures),
            seen: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait::async_trait]
impl Backend for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    async fn chat(
        &self,
        target: &ModelTarget,
        _req: &ChatRequest,
    ) -> Result<EventStream, BackendError> {
        self.seen
            .lock()
            .unwrap()
            .push(target.upstream_model.clone());
        if let Some(e) = self.failures.lock().unwrap().pop() {
            return Err(e);
        }
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 1,
            ..Usage::default()
        };
        Ok(futures::stream::iter(vec![Ok(Event::Usage(usage))]).boxed())
    }
}

fn model(id: &str, provider: &str, fallbacks: &[&str]) -> CatalogueModel {
    CatalogueModel {
        id: id.into(),
        aliases: vec![format!("{id}-alias")],
        primary: Route {
            provider: provider.into(),
            upstream_model: format!("{id}-up"),
        },
        fallbacks: fallbacks
            .iter()
            .map(|p| Route {
                provider: (*p).into(),
                upstream_model: format!("{id}-on-{p}"),
            })
            .collect(),
        context_length: None,
        max_output: None,
        prices: Prices {
            prompt: 1.0,
            cached_prompt: None,
            completion: 2.0,
        },
        capabilities: Capabilities::default(),
        name: id.into(),
        developer: "t".into(),
        description: String::new(),
    }
}

fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::text(Role::User, "hi")])
}

fn backends(list: &[&Arc<Scripted>]) -> HashMap<String, Arc<dyn Backend>> {
    list.iter()
        .map(|b| (b.name.clone(), Arc::clone(*b) as Arc<dyn Backend>))
        .collect()
}

#[tokio::test]
async fn resolves_ids_and_aliases_and_refuses_unknown() {
    let a = Scripted::new("a", vec![]);
    let r = Router::new(vec![model("m1", "a", &[])], backends(&[&a])).unwrap();
    assert_eq!(r.resolve("m1").unwrap().id, "m1");
    assert_eq!(r.resolve("m1-alias").unwrap().id, "m1");
    assert_eq!(
        r.resolve("nope").unwrap_err(),
        RouteError::UnknownModel("nope".into())
    );
    let routed = r.chat(&req("m1-alias")).await.unwrap();
    assert_eq!(routed.model_id, "m1");
    assert_eq!(routed.provider, "a");
    assert_eq!(a.seen.lock().unwrap().as_slice(), ["m1-up"]);
}

#[tokio::test]
async fn falls_back_on_failure_before_first_byte() {
    let a = Scripted::new(
        "a",
        vec![BackendError::Unavailable {
            detail: "refused".into(),
            retry_after: None,
        }],
    );
    let b = Scripted::new("b", vec![]);
    let r = Router::new(vec![model("m", "a", &["b"])], backends(&[&a, &b])).unwrap();
    let routed = r.chat(&req("m")).await.unwrap();
    assert_eq!(routed.provider, "b");
    assert_eq!(b.seen.lock().unwrap().as_slice(), ["m-on-b"]);
    let events: Vec<_> = routed.stream.collect().await;
    assert!(matches!(events.as_slice(), [Ok(Event::Usage(_))]));
}

#[tokio::test]
async fn does_not_fall_back_on_caller_errors() {
    let bad = BackendError::InvalidRequest {
        param: Some("x".into()),
        code: None,
        message: "no".into(),
    };
    let a = Scripted::new("a", vec![bad.clone()]);
    let b = Scripted::new("b", vec![]);
    let r = Router::new(vec![model("m", "a", &["b"])], backends(&[&a, &b])).unwrap();
    assert_eq!(
        r.chat(&req("m")).await.unwrap_err(),
        RouteError::Backend(bad)
    );
    assert!(b.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn last_error_returned_when_all_routes_fail() {
    let a = Scripted::new("a", vec![BackendError::Timeout { detail: "t".into() }]);
    let b = Scripted::new(
        "b",
        vec![BackendError::Upstream {
            status: Some(500),
            detail: "x".into(),
        }],
    );
    let r = Router::new(vec![model("m", "a", &["b"])], backends(&[&a, &b])).unwrap();
    assert!(matches!(
        r.chat(&req("m")).await.unwrap_err(),
        RouteError::Backend(BackendError::Upstream { .. })
    ));
}

#[tokio::test]
async fn capability_check_runs_before_any_backend() {
    let a = Scripted::new("a", vec![]);
    let r = Router::new(vec![model("m", "a", &[])], backends(&[&a])).unwrap();
    let mut rq = req("m");
    rq.options.web_search = true;
    assert!(
        matches!(r.chat(&rq).await.unwrap_err(), RouteError::Unsupported(u) if u.param == "web_search_options")
    );
    assert!(a.seen.lock().unwrap().is_empty());
}

#[test]
fn missing_backend_is_a_startup_error() {
    let a = Scripted::new("a", vec![]);
    let err = Router::new(vec![model("m", "a", &["zzz"])], backends(&[&a]))
        .err()
        .unwrap();
    assert_eq!(
        err,
        RouteError::MissingBackend {
            model: "m".into(),
            provider: "zzz".into()
        }
    );
}

#[test]
fn from_config_builds_builtin_catalogue() {
    let cfg =
        switchyard_config::Config::from_toml("", "t", &[("A", "b")], &Default::default()).unwrap();
    let a = Scripted::new("xai", vec![]);
    let r = Router::from_config(&cfg, backends(&[&a])).unwrap();
    let m = r.resolve("grok-beta").unwrap();
    assert_eq!(m.id, "x-ai/grok-beta");
    assert_eq!(m.primary.upstream_model, "grok-beta");
    assert_eq!(m.prices.completion, 15.0);
}
