//! `stream`/`stream_options`, `response_format`, `prediction` and the
//! OpenAI-documented options outside the sampling core ([`Options`]).

use serde_json::Value;
use switchyard_core::{Options, ReasoningEffort, ResponseFormat};

use super::reader::{Obj, enum_value, identifier, index, invalid, missing, str_value, wrong_type};
use crate::ApiError;

/// The most `metadata` pairs, and the longest key and value (in characters).
pub(super) const MAX_METADATA: usize = 16;
pub(super) const MAX_METADATA_KEY: usize = 64;
pub(super) const MAX_METADATA_VALUE: usize = 512;

/// `(stream, include_usage)`. `stream_options` is only allowed with `stream: true`
/// and must carry a boolean `include_usage`.
pub(super) fn stream(root: &Obj) -> Result<(bool, bool), ApiError> {
    let stream = root.opt_bool("stream")?.unwrap_or(false);
    let Some(opts) = root.opt_obj("stream_options")? else {
        return Ok((stream, false));
    };
    if !stream {
        return Err(invalid(&opts.path, "is only allowed when 'stream' is true"));
    }
    opts.deny_unknown(&["include_usage"])?;
    let include_usage = opts
        .opt_bool("include_usage")?
        .ok_or_else(|| missing(&opts.at("include_usage")))?;
    Ok((stream, include_usage))
}

#[derive(Debug, Clone, Copy)]
enum FormatKind {
    Text,
    JsonObject,
    JsonSchema,
}

const FORMATS: &[(&str, FormatKind)] = &[
    ("text", FormatKind::Text),
    ("json_object", FormatKind::JsonObject),
    ("json_schema", FormatKind::JsonSchema),
];

/// `response_format`: `text`, `json_object` or `json_schema` with a named schema.
pub(super) fn response_format(root: &Obj) -> Result<Option<ResponseFormat>, ApiError> {
    let Some(rf) = root.opt_obj("response_format")? else {
        return Ok(None);
    };
    let kind = enum_value(&rf.at("type"), rf.req("type")?, FORMATS)?;
    Ok(Some(match kind {
        FormatKind::Text => {
            rf.deny_unknown(&["type"])?;
            ResponseFormat::Text
        }
        FormatKind::JsonObject => {
            rf.deny_unknown(&["type"])?;
            ResponseFormat::JsonObject
        }
        FormatKind::JsonSchema => {
            rf.deny_unknown(&["type", "json_schema"])?;
            let js = rf.req_obj("json_schema")?;
            js.deny_unknown(&["name", "description", "schema", "strict"])?;
            let schema = match js.get("schema") {
                None => None,
                Some(v @ Value::Object(_)) => Some(v.clone()),
                Some(_) => {
                    return Err(wrong_type(&js.at("schema"), "must be a JSON Schema object"));
                }
            };
            ResponseFormat::JsonSchema {
                name: identifier(&js.at("name"), js.req_str("name")?)?.to_string(),
                description: js.opt_str("description")?.map(String::from),
                schema,
                strict: js.opt_bool("strict")?,
            }
        }
    }))
}

/// `prediction`: `{type: "content", content: string | text parts}`, as one string.
pub(super) fn prediction(root: &Obj) -> Result<Option<String>, ApiError> {
    let Some(p) = root.opt_obj("prediction")? else {
        return Ok(None);
    };
    p.deny_unknown(&["type", "content"])?;
    p.req_tag("type", "content")?;
    let path = p.at("content");
    match p.req("content")? {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(items) => {
            let mut text = String::new();
            for (i, v) in items.iter().enumerate() {
                let part = Obj::new(index(&path, i), v)?;
                part.deny_unknown(&["type", "text"])?;
                part.req_tag("type", "text")?;
                text.push_str(part.req_str("text")?);
            }
            Ok(Some(text))
        }
        _ => Err(wrong_type(
            &path,
            "must be a string or an array of text parts",
        )),
    }
}

const EFFORTS: &[(&str, ReasoningEffort)] = &[
    ("minimal", ReasoningEffort::Minimal),
    ("low", ReasoningEffort::Low),
    ("medium", ReasoningEffort::Medium),
    ("high", ReasoningEffort::High),
];
const SERVICE_TIERS: &[(&str, &str)] = &[
    ("auto", "auto"),
    ("default", "default"),
    ("flex", "flex"),
    ("priority", "priority"),
    ("scale", "scale"),
];
const MODALITIES: &[(&str, bool)] = &[("text", false), ("audio", true)];
const VOICE_FORMATS: &[(&str, ())] = &[
    ("wav", ()),
    ("aac", ()),
    ("mp3", ()),
    ("flac", ()),
    ("opus", ()),
    ("pcm16", ()),
];
const CONTEXT_SIZES: &[(&str, ())] = &[("low", ()), ("medium", ()), ("high", ())];

/// The OpenAI-documented options outside sampling.
pub(super) fn options(root: &Obj) -> Result<Options, ApiError> {
    let audio_output = audio_output(root)?;
    let web_search = web_search(root)?;
    let user = root.opt_str("user")?;
    let safety_identifier = root.opt_str("safety_identifier")?;
    Ok(Options {
        audio_output,
        web_search,
        reasoning_effort: root.opt_enum("reasoning_effort", EFFORTS)?,
        service_tier: root
            .opt_enum("service_tier", SERVICE_TIERS)?
            .map(String::from),
        store: root.opt_bool("store")?,
        metadata: metadata(root)?,
        // `safety_identifier` is OpenAI's successor to `user`; it wins if both are given.
        user: safety_identifier.or(user).map(String::from),
    })
}

/// `modalities` containing "audio", or `audio` (which needs that modality).
fn audio_output(root: &Obj) -> Result<bool, ApiError> {
    let mut wants_audio = false;
    if let Some(items) = root.opt_array("modalities")? {
        let path = root.at("modalities");
        for (i, v) in items.iter().enumerate() {
            wants_audio |= enum_value(&index(&path, i), v, MODALITIES)?;
        }
    }
    if let Some(audio) = root.opt_obj("audio")? {
        audio.deny_unknown(&["voice", "format"])?;
        match audio.req("voice")? {
            Value::String(_) => {}
            v @ Value::Object(_) => {
                let voice = Obj::new(audio.at("voice"), v)?;
                voice.deny_unknown(&["id"])?;
                voice.req_nonempty_str("id")?;
            }
            _ => {
                return Err(wrong_type(
                    &audio.at("voice"),
                    "must be a string or an object",
                ));
            }
        }
        enum_value(&audio.at("format"), audio.req("format")?, VOICE_FORMATS)?;
        if !wants_audio {
            return Err(invalid(
                &audio.path,
                "requires 'modalities' to include 'audio'",
            ));
        }
    }
    Ok(wants_audio)
}

/// `web_search_options`: its presence requests web search.
fn web_search(root: &Obj) -> Result<bool, ApiError> {
    let Some(ws) = root.opt_obj("web_search_options")? else {
        return Ok(false);
    };
    ws.deny_unknown(&["search_context_size", "user_location"])?;
    ws.opt_enum("search_context_size", CONTEXT_SIZES)?;
    if let Some(loc) = ws.opt_obj("user_location")? {
        loc.deny_unknown(&["type", "approximate"])?;
        loc.req_tag("type", "approximate")?;
        let approx = loc.req_obj("approximate")?;
        approx.deny_unknown(&["city", "country", "region", "timezone"])?;
        for key in ["city", "country", "region", "timezone"] {
            approx.opt_str(key)?;
        }
    }
    Ok(true)
}

/// `metadata`: at most 16 string pairs; keys up to 64 characters, values up to 512.
fn metadata(root: &Obj) -> Result<Vec<(String, String)>, ApiError> {
    let Some(md) = root.opt_obj("metadata")? else {
        return Ok(Vec::new());
    };
    if md.map.len() > MAX_METADATA {
        return Err(invalid(
            &md.path,
            format_args!("must have at most {MAX_METADATA} pairs"),
        ));
    }
    md.map
        .iter()
        .map(|(k, v)| {
            let path = md.at(k);
            if k.chars().count() > MAX_METADATA_KEY {
                return Err(invalid(
                    &path,
                    format_args!("keys must be at most {MAX_METADATA_KEY} characters"),
                ));
            }
            let value = str_value(&path, v)?;
            if value.chars().count() > MAX_METADATA_VALUE {
                return Err(invalid(
                    &path,
                    format_args!("must be at most {MAX_METADATA_VALUE} characters"),
                ));
            }
            Ok((k.clone(), value.to_string()))
        })
        .collect()
}
