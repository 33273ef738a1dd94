//! Sampling parameters, token budget, `n`, `stop` and `logprobs`.

use switchyard_core::{DEFAULT_MAX_TOKENS, Sampling};

use super::reader::{Obj, Range, index, invalid, str_value, wrong_type};
use crate::ApiError;

/// The most `logit_bias` entries accepted (OpenAI's limit).
pub(super) const MAX_LOGIT_BIAS: usize = 300;
/// The most stop sequences accepted.
pub(super) const MAX_STOP: usize = 4;
/// The largest `n` accepted here (models may allow fewer: `Capabilities::max_n`).
pub(super) const MAX_N: u64 = 128;

/// Sampling knobs, each checked against the schema's range.
pub(super) fn sampling(root: &Obj) -> Result<Sampling, ApiError> {
    let f = |key, range| root.opt_num(key, range).map(|x| x.map(|x| x as f32));
    Ok(Sampling {
        temperature: f("temperature", Range::incl(0.0, 2.0))?,
        top_p: f("top_p", Range::incl(0.01, 1.0))?,
        top_k: root
            .opt_int("top_k", 0, u64::from(u32::MAX))?
            .map(|k| k as u32),
        min_p: f("min_p", Range::incl(0.0, 1.0))?,
        top_a: f("top_a", Range::incl(0.0, 1.0))?,
        // The schema gives no range; OpenRouter documents (0, 2].
        repetition_penalty: f("repetition_penalty", Range::excl_min(0.0, 2.0))?,
        frequency_penalty: f("frequency_penalty", Range::incl(-2.0, 2.0))?,
        presence_penalty: f("presence_penalty", Range::incl(-2.0, 2.0))?,
        seed: root.opt_int("seed", 1, u64::MAX)?,
        logit_bias: logit_bias(root)?,
    })
}

/// `logit_bias`: `{"<token id>": bias}`, biases in -100..=100, sorted by token id.
fn logit_bias(root: &Obj) -> Result<Vec<(u32, f32)>, ApiError> {
    let Some(obj) = root.opt_obj("logit_bias")? else {
        return Ok(Vec::new());
    };
    if obj.map.len() > MAX_LOGIT_BIAS {
        return Err(invalid(
            &obj.path,
            format_args!("must have at most {MAX_LOGIT_BIAS} entries"),
        ));
    }
    let mut out = Vec::with_capacity(obj.map.len());
    for (key, value) in obj.map {
        let path = obj.at(key);
        let token = parse_token_id(key)
            .ok_or_else(|| invalid(&path, "keys must be token ids (non-negative integers)"))?;
        let bias = value
            .as_f64()
            .ok_or_else(|| wrong_type(&path, "must be a number"))?;
        let bias = Range::incl(-100.0, 100.0).check(&path, bias)?;
        out.push((token, bias as f32));
    }
    // Keys are canonical decimals, so distinct keys are distinct ids.
    out.sort_by_key(|(token, _)| *token);
    Ok(out)
}

/// A canonical decimal token id: ASCII digits only (no sign, spaces or
/// leading zeros), fitting `u32`.
fn parse_token_id(key: &str) -> Option<u32> {
    if key.is_empty()
        || !key.bytes().all(|b| b.is_ascii_digit())
        || (key.len() > 1 && key.starts_with('0'))
    {
        return None;
    }
    key.parse().ok()
}

/// The effective completion budget: `max_completion_tokens`, else
/// `max_tokens`, else the schema default 512. Both must be integers >= 1.
pub(super) fn max_tokens(root: &Obj) -> Result<u32, ApiError> {
    let max = u64::from(u32::MAX);
    let completion = root.opt_int("max_completion_tokens", 1, max)?;
    let legacy = root.opt_int("max_tokens", 1, max)?;
    Ok(completion
        .or(legacy)
        .map_or(DEFAULT_MAX_TOKENS, |t| t as u32))
}

/// `n`: 1..=128, default 1.
pub(super) fn n(root: &Obj) -> Result<u32, ApiError> {
    Ok(root.opt_int("n", 1, MAX_N)?.map_or(1, |n| n as u32))
}

/// `stop`: a string, or an array of at most 4 strings; none may be empty.
pub(super) fn stop(root: &Obj) -> Result<Vec<String>, ApiError> {
    let path = root.at("stop");
    let nonempty = |path: &str, s: &str| {
        if s.is_empty() {
            Err(invalid(path, "stop sequences must not be empty"))
        } else {
            Ok(s.to_string())
        }
    };
    match root.get("stop") {
        None => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(vec![nonempty(&path, s)?]),
        Some(serde_json::Value::Array(items)) => {
            if items.len() > MAX_STOP {
                return Err(invalid(
                    &path,
                    format_args!("must have at most {MAX_STOP} sequences"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = index(&path, i);
                    nonempty(&p, str_value(&p, v)?)
                })
                .collect()
        }
        Some(_) => Err(wrong_type(&path, "must be a string or an array of strings")),
    }
}

/// `logprobs` / `top_logprobs`: `Some(k)` when `logprobs` is true, with
/// k = `top_logprobs` (0..=20, default 0). `top_logprobs` needs `logprobs: true`.
pub(super) fn logprobs(root: &Obj) -> Result<Option<u8>, ApiError> {
    let enabled = root.opt_bool("logprobs")?.unwrap_or(false);
    let top = root.opt_int("top_logprobs", 0, 20)?;
    match (enabled, top) {
        (false, Some(_)) => Err(invalid(
            &root.at("top_logprobs"),
            "requires 'logprobs' to be true",
        )),
        (false, None) => Ok(None),
        (true, top) => Ok(Some(top.unwrap_or(0) as u8)),
    }
}
