//! Token usage as reported by a backend in its final event.

use serde::{Deserialize, Serialize};

/// Token counts for one completed request (all choices together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, how many were served from a prompt cache.
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Of `completion_tokens`, how many were reasoning tokens.
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub prompt: f64,
    /// Price for cached prompt tokens; defaults to the prompt price when absent.
    #[serde(default)]
    pub cached_prompt: Option<f64>,
    pub completion: f64,
}

impl Prices {
    /// Cost in USD of `usage` at these prices. Cached tokens are billed at the
    /// cached price, the rest of the prompt at the prompt price; reasoning
    /// tokens are part of completion tokens and billed as such.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        let cached_price = self.cached_prompt.unwrap_or(self.prompt);
        (uncached as f64 * self.prompt
            + cached as f64 * cached_price
            + usage.completion_tokens as f64 * self.completion)
            / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_splits_cached_prompt_tokens() {
        let p = Prices {
            prompt: 5.0,
            cached_prompt: Some(2.5),
            completion: 15.0,
        };
        let u = Usage {
            prompt_tokens: 1_000_000,
            cached_tokens: 400_000,
            completion_tokens: 100_000,
            reasoning_tokens: 0,
        };
        let c = p.cost(&u);
        assert!((c - (3.0 + 1.0 + 1.5)).abs() < 1e-9, "{c}");
    }

    #[test]
    fn cached_price_defaults_to_prompt_price() {
        let p = Prices {
            prompt: 2.0,
            cached_prompt: None,
            completion: 0.0,
        };
        let u = Usage {
            prompt_tokens: 500_000,
            cached_tokens: 500_000,
            ..Usage::default()
        };
        assert!((p.cost(&u) - 1.0).abs() < 1e-9);
    }
}
