//! `messages`: roles, per-role keys and content parts.

use serde_json::Value;
use switchyard_core::{Content, ContentPart, Message, Role, ToolCall};

use super::reader::{Obj, enum_value, index, invalid, missing, wrong_type};
use crate::ApiError;

const ROLES: &[(&str, Role)] = &[
    ("system", Role::System),
    ("developer", Role::Developer),
    ("user", Role::User),
    ("assistant", Role::Assistant),
    ("tool", Role::Tool),
];

/// Content-part kinds (the part's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    ImageUrl,
    InputAudio,
    File,
    Refusal,
}

const TEXT: (&str, Kind) = ("text", Kind::Text);
const IMAGE_URL: (&str, Kind) = ("image_url", Kind::ImageUrl);
const INPUT_AUDIO: (&str, Kind) = ("input_audio", Kind::InputAudio);
const FILE: (&str, Kind) = ("file", Kind::File);
const REFUSAL: (&str, Kind) = ("refusal", Kind::Refusal);

const USER_PARTS: &[(&str, Kind)] = &[TEXT, IMAGE_URL, INPUT_AUDIO, FILE];
const TEXT_PARTS: &[(&str, Kind)] = &[TEXT];
const ASSISTANT_PARTS: &[(&str, Kind)] = &[TEXT, REFUSAL];

const IMAGE_DETAILS: &[(&str, &str)] = &[("auto", "auto"), ("low", "low"), ("high", "high")];
const AUDIO_FORMATS: &[(&str, &str)] = &[("wav", "wav"), ("mp3", "mp3")];

/// `messages`: a non-empty array of messages.
pub(super) fn messages(root: &Obj) -> Result<Vec<Message>, ApiError> {
    let path = root.at("messages");
    let items = root.opt_array("messages")?.ok_or_else(|| missing(&path))?;
    if items.is_empty() {
        return Err(invalid(&path, "must contain at least one message"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| message(&Obj::new(index(&path, i), v)?))
        .collect()
}

/// One message; the allowed keys and content kinds depend on `role`.
fn message(m: &Obj) -> Result<Message, ApiError> {
    let role = enum_value(&m.at("role"), m.req("role")?, ROLES)?;
    let mut msg = Message {
        role,
        content: None,
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
        refusal: None,
    };
    match role {
        Role::System | Role::Developer => {
            m.deny_unknown(&["role", "content", "name"])?;
            msg.content = Some(content(m, m.req("content")?, TEXT_PARTS)?);
        }
        Role::User => {
            m.deny_unknown(&["role", "content", "name"])?;
            msg.content = Some(content(m, m.req("content")?, USER_PARTS)?);
        }
        Role::Tool => {
            m.deny_unknown(&["role", "content", "tool_call_id", "name"])?;
            msg.content = Some(content(m, m.req("content")?, TEXT_PARTS)?);
            msg.tool_call_id = Some(m.req_nonempty_str("tool_call_id")?.to_string());
        }
        Role::Assistant => {
            m.deny_unknown(&["role", "content", "name", "tool_calls", "refusal"])?;
            msg.tool_calls = tool_calls(m)?;
            msg.content = match m.get("content") {
                Some(v) => Some(content(m, v, ASSISTANT_PARTS)?),
                None if msg.tool_calls.is_empty() => return Err(missing(&m.at("content"))),
                None => None,
            };
            msg.refusal = m.opt_str("refusal")?.map(String::from);
        }
    }
    msg.name = m.opt_str("name")?.map(String::from);
    Ok(msg)
}

/// `content`: a string, or a non-empty array of parts of the `allowed` kinds.
fn content(m: &Obj, value: &Value, allowed: &[(&str, Kind)]) -> Result<Content, ApiError> {
    let path = m.at("content");
    let items = match value {
        Value::String(s) => return Ok(Content::Text(s.clone())),
        Value::Array(items) => items,
        _ => {
            return Err(wrong_type(
                &path,
                "must be a string or an array of content parts",
            ));
        }
    };
    if items.is_empty() {
        return Err(invalid(&path, "must contain at least one content part"));
    }
    let parts = items
        .iter()
        .enumerate()
        .map(|(i, v)| part(&Obj::new(index(&path, i), v)?, allowed))
        .collect::<Result<Vec<_>, _>>()?;
    // The schema: "one or more of type text, or exactly one of type refusal".
    if parts.len() > 1
        && let Some(i) = parts
            .iter()
            .position(|p| matches!(p, ContentPart::Refusal(_)))
    {
        return Err(invalid(
            &index(&path, i),
            "a refusal part must be the only content part",
        ));
    }
    Ok(Content::Parts(parts))
}

/// One content part.
fn part(p: &Obj, allowed: &[(&str, Kind)]) -> Result<ContentPart, ApiError> {
    let kind = enum_value(&p.at("type"), p.req("type")?, allowed)?;
    Ok(match kind {
        Kind::Text => {
            p.deny_unknown(&["type", "text"])?;
            ContentPart::Text(p.req_str("text")?.to_string())
        }
        Kind::Refusal => {
            p.deny_unknown(&["type", "refusal"])?;
            ContentPart::Refusal(p.req_str("refusal")?.to_string())
        }
        Kind::ImageUrl => {
            p.deny_unknown(&["type", "image_url"])?;
            let img = p.req_obj("image_url")?;
            img.deny_unknown(&["url", "detail"])?;
            ContentPart::ImageUrl {
                url: img.req_nonempty_str("url")?.to_string(),
                detail: img.opt_enum("detail", IMAGE_DETAILS)?.map(String::from),
            }
        }
        Kind::InputAudio => {
            p.deny_unknown(&["type", "input_audio"])?;
            let audio = p.req_obj("input_audio")?;
            audio.deny_unknown(&["data", "format"])?;
            ContentPart::InputAudio {
                data: audio.req_nonempty_str("data")?.to_string(),
                format: enum_value(&audio.at("format"), audio.req("format")?, AUDIO_FORMATS)?
                    .to_string(),
            }
        }
        Kind::File => {
            p.deny_unknown(&["type", "file"])?;
            let file = p.req_obj("file")?;
            file.deny_unknown(&["file_data", "filename", "file_id"])?;
            let file_data = file.opt_str("file_data")?.map(String::from);
            let file_id = file.opt_str("file_id")?.map(String::from);
            if file_data.is_none() && file_id.is_none() {
                return Err(invalid(&file.path, "needs 'file_data' or 'file_id'"));
            }
            ContentPart::File {
                file_data,
                filename: file.opt_str("filename")?.map(String::from),
                file_id,
            }
        }
    })
}

/// An assistant message's `tool_calls`.
fn tool_calls(m: &Obj) -> Result<Vec<ToolCall>, ApiError> {
    let Some(items) = m.opt_array("tool_calls")? else {
        return Ok(Vec::new());
    };
    let path = m.at("tool_calls");
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let call = Obj::new(index(&path, i), v)?;
            call.deny_unknown(&["id", "type", "function"])?;
            let id = call.req_nonempty_str("id")?.to_string();
            call.req_tag("type", "function")?;
            let function = call.req_obj("function")?;
            function.deny_unknown(&["name", "arguments"])?;
            Ok(ToolCall {
                id,
                name: function.req_nonempty_str("name")?.to_string(),
                arguments: function.req_str("arguments")?.to_string(),
            })
        })
        .collect()
}
