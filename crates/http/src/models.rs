//! `GET /v1/models` in the shape of `reference/aimlapi/models.json`.
//!
//! Optional sections with `include=pricing,modalities,capabilities` (or `all`,
//! or `details=true|1`); comma-separated and repeated values both work and
//! unknown values are ignored. Filters: `id` (id or alias), `type`, `tags`,
//! `modalities`, `input_modalities`, `output_modalities`, `capabilities`;
//! values within one filter are OR-ed, different filters AND-ed. The
//! response carries an `ETag` and honours `If-None-Match`.

use axum::{
    extract::{Query, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH},
    },
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};
use switchyard_core::Capabilities;
use switchyard_router::CatalogueModel;

use crate::{ApiError, AppState};

/// The only endpoint type Switchyard serves today.
pub const CHAT_COMPLETIONS_TYPE: &str = "openai/chat-completions";

#[derive(Default)]
struct Params {
    pricing: bool,
    modalities: bool,
    capabilities: bool,
    ids: Vec<String>,
    types: Vec<String>,
    tags: Vec<String>,
    any_modality: Vec<String>,
    input_modalities: Vec<String>,
    output_modalities: Vec<String>,
    capability_filter: Vec<String>,
}

fn values(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Params {
    fn parse(pairs: &[(String, String)]) -> Params {
        let mut p = Params::default();
        for (k, v) in pairs {
            match k.as_str() {
                "include" => {
                    for item in values(v) {
                        match item.to_ascii_lowercase().as_str() {
                            "pricing" => p.pricing = true,
                            "modalities" => p.modalities = true,
                            "capabilities" => p.capabilities = true,
                            "all" => p.all(),
                            _ => {}
                        }
                    }
                }
                "details" if matches!(v.trim(), "true" | "1") => p.all(),
                "id" => p.ids.extend(values(v)),
                "type" => p.types.extend(values(v)),
                "tags" => p.tags.extend(values(v)),
                "modalities" => p.any_modality.extend(values(v)),
                "input_modalities" => p.input_modalities.extend(values(v)),
                "output_modalities" => p.output_modalities.extend(values(v)),
                "capabilities" => p.capability_filter.extend(values(v)),
                _ => {}
            }
        }
        p
    }

    fn all(&mut self) {
        self.pricing = true;
        self.modalities = true;
        self.capabilities = true;
    }
}

/// Keeps the item when the filter is empty or any wanted value is present.
fn any_of(wanted: &[String], have: &[String]) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| have.contains(w))
}

fn input_modalities(c: &Capabilities) -> Vec<String> {
    let mut v = vec!["text".to_owned()];
    if c.vision {
        v.push("image".into());
    }
    if c.audio_input {
        v.push("audio".into());
    }
    if c.files {
        v.push("file".into());
    }
    v
}

fn output_modalities(c: &Capabilities) -> Vec<String> {
    let mut v = vec!["text".to_owned()];
    if c.audio_output {
        v.push("audio".into());
    }
    v
}

/// Declared capabilities, sorted.
fn capability_names(c: &Capabilities) -> Vec<String> {
    let flags = [
        (c.audio_input, "audio_input"),
        (c.audio_output, "audio_output"),
        (c.files, "file_input"),
        (c.json_mode, "json_mode"),
        (c.logprobs, "logprobs"),
        (c.prediction, "predicted_output"),
        (c.reasoning, "reasoning"),
        (true, "streaming"),
        (c.json_schema, "structured_output"),
        (c.tools, "tools"),
        (c.vision, "vision"),
        (c.web_search, "web_search"),
    ];
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

fn pricing(m: &CatalogueModel) -> Value {
    let p = &m.prices;
    let unit = |unit: &str, price: f64| json!({"unit": unit, "price": price, "per": 1_000_000});
    json!({
        "kind": "fixed",
        "currency": "USD",
        "units": [
            unit("input_tokens", p.prompt),
            unit("cached_input_tokens", p.cached_prompt.unwrap_or(p.prompt)),
            unit("output_tokens", p.completion),
        ],
    })
}

fn entry(m: &CatalogueModel, p: &Params) -> Value {
    let mut info = Map::new();
    info.insert("name".into(), json!(m.name));
    info.insert("developer".into(), json!(m.developer));
    info.insert("description".into(), json!(m.description));
    if let Some(n) = m.context_length {
        info.insert("contextLength".into(), json!(n));
    }
    if let Some(n) = m.max_output {
        info.insert("outputMax".into(), json!(n));
    }
    let mut e = Map::new();
    e.insert("id".into(), json!(m.id));
    e.insert("aliases".into(), json!(m.aliases));
    e.insert("type".into(), json!(CHAT_COMPLETIONS_TYPE));
    e.insert("info".into(), Value::Object(info));
    e.insert("tags".into(), json!(tags(m)));
    if p.modalities {
        e.insert(
            "modalities".into(),
            json!({
                "input": input_modalities(&m.capabilities),
                "output": output_modalities(&m.capabilities),
            }),
        );
    }
    if p.capabilities {
        e.insert(
            "capabilities".into(),
            json!(capability_names(&m.capabilities)),
        );
    }
    if p.pricing {
        e.insert("pricing".into(), pricing(m));
    }
    Value::Object(e)
}

/// Tags: none are configured yet; the catalogue has no tag field.
fn tags(_m: &CatalogueModel) -> Vec<String> {
    Vec::new()
}

fn keep(m: &CatalogueModel, p: &Params) -> bool {
    let names: Vec<String> = std::iter::once(&m.id).chain(&m.aliases).cloned().collect();
    let input = input_modalities(&m.capabilities);
    let output = output_modalities(&m.capabilities);
    let both: Vec<String> = input.iter().chain(&output).cloned().collect();
    any_of(&p.ids, &names)
        && any_of(&p.types, &[CHAT_COMPLETIONS_TYPE.to_owned()])
        && any_of(&p.tags, &tags(m))
        && any_of(&p.any_modality, &both)
        && any_of(&p.input_modalities, &input)
        && any_of(&p.output_modalities, &output)
        && any_of(&p.capability_filter, &capability_names(&m.capabilities))
}

/// FNV-1a over the body: a strong-enough validator for a small JSON document.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

pub(crate) async fn list_models(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(_) => {
            return ApiError::invalid("query", "The query string could not be parsed.")
                .into_response();
        }
    };
    let p = Params::parse(&pairs);
    let data: Vec<Value> = state
        .router()
        .models()
        .iter()
        .filter(|m| keep(m, &p))
        .map(|m| entry(m, &p))
        .collect();
    let body = match serde_json::to_vec(&json!({"object": "list", "data": data})) {
        Ok(b) => b,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let tag = etag(&body);
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let tag_value = HeaderValue::from_str(&tag).ok();
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Some(v) = tag_value {
        resp.headers_mut().insert(ETAG, v);
    }
    resp
}
