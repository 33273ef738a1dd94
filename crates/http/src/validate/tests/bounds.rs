//! Every ranged field: the bound just inside is accepted (and mapped), just
//! outside is refused naming the field.

use serde_json::json;
use switchyard_core::Sampling;

use super::*;

/// A float field: `(name, inside values, outside values, reads the mapped value)`.
type Getter = fn(&Sampling) -> Option<f32>;

#[test]
fn float_ranges() {
    let table: &[(&str, &[f64], &[f64], Getter)] = &[
        (
            "temperature",
            &[0.0, 2.0, 1.0],
            &[-0.0001, 2.0001, -1.0, 100.0],
            |s| s.temperature,
        ),
        ("top_p", &[0.01, 1.0], &[0.0099, 0.0, 1.0001, -0.5], |s| {
            s.top_p
        }),
        ("min_p", &[0.0, 1.0], &[-0.0001, 1.0001], |s| s.min_p),
        ("top_a", &[0.0, 1.0], &[-0.0001, 1.0001], |s| s.top_a),
        (
            "frequency_penalty",
            &[-2.0, 2.0, 0.0],
            &[-2.0001, 2.0001],
            |s| s.frequency_penalty,
        ),
        (
            "presence_penalty",
            &[-2.0, 2.0, 0.0],
            &[-2.0001, 2.0001],
            |s| s.presence_penalty,
        ),
        (
            "repetition_penalty",
            &[0.0001, 2.0, 1.0],
            &[0.0, -0.1, 2.0001],
            |s| s.repetition_penalty,
        ),
    ];
    for (field, inside, outside, get) in table {
        for x in *inside {
            let r = ok(&with(field, json!(x)));
            assert_eq!(get(&r.sampling), Some(*x as f32), "{field} = {x}");
        }
        for x in *outside {
            assert_refused(&with(field, json!(x)), field, "invalid_value");
        }
    }
}

#[test]
fn integer_ranges() {
    // (field, inside, outside)
    let table: &[(&str, &[i64], &[i64])] = &[
        ("top_k", &[0, 1, 4_294_967_295], &[-1, 4_294_967_296]),
        ("seed", &[1, i64::MAX], &[0, -1]),
        ("max_tokens", &[1, 4_294_967_295], &[0, -5, 4_294_967_296]),
        (
            "max_completion_tokens",
            &[1, 4_294_967_295],
            &[0, 4_294_967_296],
        ),
        ("n", &[1, 128], &[0, 129]),
    ];
    for (field, inside, outside) in table {
        for x in *inside {
            let r = ok(&with(field, json!(x)));
            let got = match *field {
                "top_k" => r.sampling.top_k.map(u64::from),
                "seed" => r.sampling.seed,
                "max_tokens" | "max_completion_tokens" => Some(u64::from(r.max_tokens)),
                "n" => Some(u64::from(r.n)),
                _ => unreachable!(),
            };
            assert_eq!(got, Some(*x as u64), "{field} = {x}");
        }
        for x in *outside {
            assert_refused(&with(field, json!(x)), field, "invalid_value");
        }
        // Integer-valued only.
        assert_refused(&with(field, json!(1.5)), field, "invalid_type");
        let r = ok(&with(field, json!(2.0)));
        assert!(
            r.max_tokens == 2
                || r.n == 2
                || r.sampling.top_k == Some(2)
                || r.sampling.seed == Some(2),
            "{field} = 2.0"
        );
    }
    assert_eq!(
        ok(&with("seed", json!(u64::MAX))).sampling.seed,
        Some(u64::MAX)
    );
    assert_refused(
        &with("max_tokens", json!(1e300)),
        "max_tokens",
        "invalid_value",
    );
}

#[test]
fn max_tokens_default_and_precedence() {
    assert_eq!(ok(&base()).max_tokens, 512);
    assert_eq!(ok(&with("max_tokens", json!(100))).max_tokens, 100);
    assert_eq!(
        ok(&with("max_completion_tokens", json!(300))).max_tokens,
        300
    );
    assert_eq!(
        ok(&with_all(
            json!({"max_tokens": 100, "max_completion_tokens": 300})
        ))
        .max_tokens,
        300
    );
    assert_eq!(
        ok(&with_all(
            json!({"max_tokens": 100, "max_completion_tokens": null})
        ))
        .max_tokens,
        100
    );
    // Both are checked even when one wins.
    assert_refused(
        &with_all(json!({"max_tokens": 0, "max_completion_tokens": 300})),
        "max_tokens",
        "invalid_value",
    );
}

#[test]
fn logprobs_and_top_logprobs() {
    assert_eq!(ok(&base()).logprobs, None);
    assert_eq!(ok(&with("logprobs", json!(false))).logprobs, None);
    assert_eq!(ok(&with("logprobs", json!(true))).logprobs, Some(0));
    for k in [0u8, 20] {
        assert_eq!(
            ok(&with_all(json!({"logprobs": true, "top_logprobs": k}))).logprobs,
            Some(k)
        );
    }
    for k in [-1, 21] {
        assert_refused(
            &with_all(json!({"logprobs": true, "top_logprobs": k})),
            "top_logprobs",
            "invalid_value",
        );
    }
    assert_refused(
        &with_all(json!({"logprobs": true, "top_logprobs": 2.5})),
        "top_logprobs",
        "invalid_type",
    );
    assert_refused(
        &with("top_logprobs", json!(3)),
        "top_logprobs",
        "invalid_value",
    );
    assert_refused(
        &with_all(json!({"logprobs": false, "top_logprobs": 3})),
        "top_logprobs",
        "invalid_value",
    );
    assert_eq!(
        ok(&with_all(json!({"logprobs": false, "top_logprobs": null}))).logprobs,
        None
    );
}

#[test]
fn logit_bias_bounds_and_keys() {
    let r = ok(&with(
        "logit_bias",
        json!({"50256": -100, "7": 100, "0": 0.5}),
    ));
    assert_eq!(
        r.sampling.logit_bias,
        vec![(0, 0.5), (7, 100.0), (50256, -100.0)]
    );
    assert_refused(
        &with("logit_bias", json!({"5": -100.01})),
        "logit_bias.5",
        "invalid_value",
    );
    assert_refused(
        &with("logit_bias", json!({"5": 100.01})),
        "logit_bias.5",
        "invalid_value",
    );
    assert_refused(
        &with("logit_bias", json!({"5": "1"})),
        "logit_bias.5",
        "invalid_type",
    );
    for key in ["abc", "-1", "+5", "05", " 5", "1.5", "4294967296", ""] {
        assert_refused(
            &with("logit_bias", json!({ key: 1 })),
            &format!("logit_bias.{key}"),
            "invalid_value",
        );
    }
    assert_eq!(
        ok(&with("logit_bias", json!({"4294967295": 1})))
            .sampling
            .logit_bias,
        vec![(u32::MAX, 1.0)]
    );

    let entries = |n: usize| Value::Object((0..n).map(|i| (i.to_string(), json!(1))).collect());
    assert_eq!(
        ok(&with("logit_bias", entries(300)))
            .sampling
            .logit_bias
            .len(),
        300
    );
    assert_refused(
        &with("logit_bias", entries(301)),
        "logit_bias",
        "invalid_value",
    );
}

#[test]
fn stop_sequences() {
    assert_eq!(
        ok(&with("stop", json!("END"))).stop,
        vec!["END".to_string()]
    );
    assert_eq!(ok(&with("stop", json!([]))).stop, Vec::<String>::new());
    assert_eq!(
        ok(&with("stop", json!(["a", "b", "c", "d"]))).stop,
        vec!["a", "b", "c", "d"]
    );
    assert_refused(
        &with("stop", json!(["a", "b", "c", "d", "e"])),
        "stop",
        "invalid_value",
    );
    assert_refused(&with("stop", json!("")), "stop", "invalid_value");
    assert_refused(&with("stop", json!(["a", ""])), "stop[1]", "invalid_value");
    assert_refused(&with("stop", json!(["a", 5])), "stop[1]", "invalid_type");
}

#[test]
fn metadata_limits() {
    let pairs = |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), json!("v"))).collect());
    let r = ok(&with("metadata", pairs(16)));
    assert_eq!(r.options.metadata.len(), 16);
    assert_eq!(
        r.options.metadata.first(),
        Some(&("k0".to_string(), "v".to_string()))
    );
    assert_refused(&with("metadata", pairs(17)), "metadata", "invalid_value");

    let key64 = "k".repeat(64);
    let key65 = "k".repeat(65);
    assert!(
        ok(&with("metadata", json!({ key64: "v" })))
            .options
            .metadata
            .len()
            == 1
    );
    assert_refused(
        &with("metadata", json!({ key65.clone(): "v" })),
        &format!("metadata.{key65}"),
        "invalid_value",
    );
    // Characters, not bytes.
    assert_eq!(
        ok(&with("metadata", json!({"k": "é".repeat(512)})))
            .options
            .metadata
            .len(),
        1
    );
    assert_refused(
        &with("metadata", json!({"k": "v".repeat(513)})),
        "metadata.k",
        "invalid_value",
    );
}

#[test]
fn name_lengths() {
    let tool = |name: &str| json!([{"type": "function", "function": {"name": name}}]);
    assert_eq!(ok(&with("tools", tool(&"a".repeat(64)))).tools.len(), 1);
    assert_refused(
        &with("tools", tool(&"a".repeat(65))),
        "tools[0].function.name",
        "invalid_value",
    );
    assert_refused(
        &with("tools", tool("")),
        "tools[0].function.name",
        "invalid_value",
    );
    let schema = |name: &str| json!({"type": "json_schema", "json_schema": {"name": name}});
    assert!(
        ok(&with("response_format", schema(&"Z".repeat(64))))
            .response_format
            .is_some()
    );
    assert_refused(
        &with("response_format", schema(&"Z".repeat(65))),
        "response_format.json_schema.name",
        "invalid_value",
    );
}

#[test]
fn counts_of_tools() {
    let tools = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({"type": "function", "function": {"name": format!("f{i}")}}))
                .collect(),
        )
    };
    assert_eq!(ok(&with("tools", tools(128))).tools.len(), 128);
    assert_refused(&with("tools", tools(129)), "tools", "invalid_value");
}
