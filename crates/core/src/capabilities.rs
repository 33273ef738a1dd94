//! What a model can do, and the check that refuses what it cannot.

use serde::{Deserialize, Serialize};

use crate::{ChatRequest, Modality, ResponseFormat};

/// Capabilities of one catalogue model. Defaults describe a plain text chat
/// model that supports tools and JSON mode (typical of OpenAI-compatible upstreams).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    pub vision: bool,
    pub audio_input: bool,
    pub files: bool,
    pub tools: bool,
    pub json_mode: bool,
    pub json_schema: bool,
    pub audio_output: bool,
    pub web_search: bool,
    pub reasoning: bool,
    pub logprobs: bool,
    pub prediction: bool,
    /// Largest `n` accepted.
    pub max_n: u32,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            vision: false,
            audio_input: false,
            files: false,
            tools: true,
            json_mode: true,
            json_schema: true,
            audio_output: false,
            web_search: false,
            reasoning: false,
            logprobs: true,
            prediction: false,
            max_n: 1,
        }
    }
}

/// A parameter the chosen model cannot honour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Unsupported {
    pub param: String,
    pub message: String,
}

impl Capabilities {
    /// Refuses any requested feature this model lacks, naming the parameter.
    pub fn check(&self, model: &str, req: &ChatRequest) -> Result<(), Unsupported> {
        let refuse = |param: String, what: &str| {
            Err(Unsupported {
                message: format!("Model '{model}' does not support {what}."),
                param,
            })
        };
        for (i, m) in req.messages.iter().enumerate() {
            let Some(content) = &m.content else { continue };
            for (j, part) in content.parts().into_iter().enumerate() {
                let param = format!("messages[{i}].content[{j}]");
                match part.modality() {
                    Modality::Image if !self.vision => return refuse(param, "image input"),
                    Modality::Audio if !self.audio_input => return refuse(param, "audio input"),
                    Modality::File if !self.files => return refuse(param, "file input"),
                    _ => {}
                }
            }
        }
        if !req.tools.is_empty() && !self.tools {
            return refuse("tools".into(), "tool calling");
        }
        match &req.response_format {
            Some(ResponseFormat::JsonObject) if !self.json_mode => {
                return refuse(
                    "response_format".into(),
                    "JSON mode (response_format json_object)",
                );
            }
            Some(ResponseFormat::JsonSchema { .. }) if !self.json_schema => {
                return refuse(
                    "response_format".into(),
                    "structured output (response_format json_schema)",
                );
            }
            _ => {}
        }
        if req.options.audio_output && !self.audio_output {
            return refuse("modalities".into(), "audio output");
        }
        if req.options.web_search && !self.web_search {
            return refuse("web_search_options".into(), "web search");
        }
        if req.options.reasoning_effort.is_some() && !self.reasoning {
            return refuse("reasoning_effort".into(), "reasoning effort control");
        }
        if req.logprobs.is_some() && !self.logprobs {
            return refuse("logprobs".into(), "log probabilities");
        }
        if req.prediction.is_some() && !self.prediction {
            return refuse("prediction".into(), "predicted outputs");
        }
        if req.n > self.max_n.max(1) {
            return Err(Unsupported {
                param: "n".into(),
                message: format!("Model '{model}' supports n up to {}.", self.max_n.max(1)),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Content, ContentPart, Message, Role};

    #[test]
    fn image_input_refused_for_text_only_model_naming_the_part() {
        let mut m = Message::text(Role::User, "");
        m.content = Some(Content::Parts(vec![
            ContentPart::Text("look".into()),
            ContentPart::ImageUrl {
                url: "https://x/y.png".into(),
                detail: None,
            },
        ]));
        let req = ChatRequest::new("m", vec![Message::text(Role::System, "s"), m]);
        let err = Capabilities::default().check("m", &req).unwrap_err();
        assert_eq!(err.param, "messages[1].content[1]");
        let ok = Capabilities {
            vision: true,
            ..Capabilities::default()
        };
        assert!(ok.check("m", &req).is_ok());
    }

    #[test]
    fn audio_output_and_web_search_refused_by_default() {
        let mut req = ChatRequest::new("m", vec![Message::text(Role::User, "hi")]);
        req.options.audio_output = true;
        assert_eq!(
            Capabilities::default().check("m", &req).unwrap_err().param,
            "modalities"
        );
        req.options.audio_output = false;
        req.options.web_search = true;
        assert_eq!(
            Capabilities::default().check("m", &req).unwrap_err().param,
            "web_search_options"
        );
    }

    #[test]
    fn n_above_max_refused() {
        let mut req = ChatRequest::new("m", vec![Message::text(Role::User, "hi")]);
        req.n = 2;
        assert_eq!(
            Capabilities::default().check("m", &req).unwrap_err().param,
            "n"
        );
        assert!(
            Capabilities {
                max_n: 4,
                ..Default::default()
            }
            .check("m", &req)
            .is_ok()
        );
    }
}
