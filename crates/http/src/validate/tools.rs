//! `tools` / `tool_choice`, and the deprecated `functions` / `function_call`
//! (converted into tools and a tool choice).

use serde_json::Value;
use switchyard_core::{Tool, ToolChoice};

use super::reader::{Obj, enum_value, identifier, index, invalid, str_value, wrong_type};
use crate::ApiError;

/// The most tools (or functions) accepted (OpenAI's limit).
pub(super) const MAX_TOOLS: usize = 128;

const CHOICES: &[(&str, ToolChoice)] = &[
    ("none", ToolChoice::None),
    ("auto", ToolChoice::Auto),
    ("required", ToolChoice::Required),
];
const LEGACY_CHOICES: &[(&str, ToolChoice)] =
    &[("none", ToolChoice::None), ("auto", ToolChoice::Auto)];

/// The tools and the tool choice, from `tools`/`tool_choice` or from the
/// deprecated `functions`/`function_call` (never a mix of the two styles).
pub(super) fn tools(root: &Obj) -> Result<(Vec<Tool>, Option<ToolChoice>), ApiError> {
    if root.has("functions") && root.has("tools") {
        return Err(invalid(
            &root.at("functions"),
            "cannot be combined with 'tools'; use 'tools' only",
        ));
    }
    if root.has("function_call") && root.has("tool_choice") {
        return Err(invalid(
            &root.at("function_call"),
            "cannot be combined with 'tool_choice'; use 'tool_choice' only",
        ));
    }
    let legacy = root.has("functions") || root.has("function_call");
    let (list_key, choice_key) = if legacy {
        ("functions", "function_call")
    } else {
        ("tools", "tool_choice")
    };

    let mut tools = Vec::new();
    if let Some(items) = root.opt_array(list_key)? {
        let path = root.at(list_key);
        if items.len() > MAX_TOOLS {
            return Err(invalid(
                &path,
                format_args!("must have at most {MAX_TOOLS} entries"),
            ));
        }
        for (i, v) in items.iter().enumerate() {
            let item = Obj::new(index(&path, i), v)?;
            let (tool, name_path) = if legacy {
                (function(&item, false)?, item.at("name"))
            } else {
                tool_entry(&item)?
            };
            if tools.iter().any(|t: &Tool| t.name == tool.name) {
                return Err(invalid(
                    &name_path,
                    format_args!("duplicate function name '{}'", tool.name),
                ));
            }
            tools.push(tool);
        }
    }

    let choice = match root.get(choice_key) {
        None => None,
        Some(v) => Some(choice(&root.at(choice_key), v, legacy, &tools, list_key)?),
    };
    Ok((tools, choice))
}

/// One `tools[i]`: `{type: "function", function: {...}}`. Returns the tool
/// and the path of its name (for duplicate errors).
fn tool_entry(item: &Obj) -> Result<(Tool, String), ApiError> {
    item.deny_unknown(&["type", "function"])?;
    item.req_tag("type", "function")?;
    let f = item.req_obj("function")?;
    Ok((function(&f, true)?, f.at("name")))
}

/// A function definition. `tool_style` allows the keys of `tools[i].function`
/// (`strict`, and the schema's `required`); the deprecated `functions[i]` has
/// only `name`, `description` and `parameters`.
fn function(f: &Obj, tool_style: bool) -> Result<Tool, ApiError> {
    if tool_style {
        f.deny_unknown(&["name", "description", "parameters", "strict", "required"])?;
    } else {
        f.deny_unknown(&["name", "description", "parameters"])?;
    }
    let name = identifier(&f.at("name"), f.req_str("name")?)?.to_string();
    let description = f.opt_str("description")?.map(String::from);
    let mut parameters = match f.get("parameters") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(wrong_type(
                &f.at("parameters"),
                "must be a JSON Schema object",
            ));
        }
    };
    let strict = if tool_style {
        f.opt_bool("strict")?
    } else {
        None
    };
    if tool_style && let Some(items) = f.opt_array("required")? {
        let path = f.at("required");
        let names = items
            .iter()
            .enumerate()
            .map(|(i, v)| str_value(&index(&path, i), v).map(String::from))
            .collect::<Result<Vec<_>, _>>()?;
        merge_required(&mut parameters, names);
    }
    Ok(Tool {
        name,
        description,
        parameters,
        strict,
    })
}

/// The schema's `function.required` (names of required arguments) has no field
/// of its own in [`Tool`]; it means what JSON Schema's `required` means, so it
/// is merged into `parameters.required` (a union, keeping order).
fn merge_required(parameters: &mut Option<Value>, names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    let schema =
        parameters.get_or_insert_with(|| serde_json::json!({"type": "object", "properties": {}}));
    let Value::Object(map) = schema else { return };
    let list = map
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(existing) = list {
        for n in names {
            if !existing.iter().any(|e| e.as_str() == Some(n.as_str())) {
                existing.push(Value::String(n));
            }
        }
    }
}

/// `tool_choice` (or the legacy `function_call`): a mode string or a named
/// function, which must be one of `tools`. Anything but "none" needs tools.
fn choice(
    path: &str,
    v: &Value,
    legacy: bool,
    tools: &[Tool],
    list_key: &str,
) -> Result<ToolChoice, ApiError> {
    let (choice, name_path) = match v {
        Value::String(_) => (
            enum_value(path, v, if legacy { LEGACY_CHOICES } else { CHOICES })?,
            None,
        ),
        Value::Object(_) => {
            let obj = Obj::new(path.to_string(), v)?;
            let named = if legacy {
                obj.deny_unknown(&["name"])?;
                obj
            } else {
                obj.deny_unknown(&["type", "function"])?;
                obj.req_tag("type", "function")?;
                let f = obj.req_obj("function")?;
                f.deny_unknown(&["name"])?;
                f
            };
            (
                ToolChoice::Function(named.req_str("name")?.to_string()),
                Some(named.at("name")),
            )
        }
        _ => return Err(wrong_type(path, "must be a string or an object")),
    };
    if choice != ToolChoice::None && tools.is_empty() {
        return Err(invalid(
            path,
            format_args!("requires '{list_key}' to be given"),
        ));
    }
    if let (ToolChoice::Function(name), Some(name_path)) = (&choice, name_path)
        && !tools.iter().any(|t| &t.name == name)
    {
        return Err(invalid(
            &name_path,
            format_args!("no function with this name in '{list_key}'"),
        ));
    }
    Ok(choice)
}
