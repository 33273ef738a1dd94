#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use switchyard_engine::Logits;
use switchyard_gguf::{GgmlType, GgufFile};

/// The fixtures carry the real vocabulary and decide greedy steps by a clear margin.
#[test]
fn fixtures_load_with_real_vocab_and_decisive_logits() {
    for (arch, wtype, vocab) in [
        ("llama", GgmlType::F32, "ggml-vocab-llama-bpe.gguf"),
        ("llama", GgmlType::F16, "ggml-vocab-llama-bpe.gguf"),
        ("qwen2", GgmlType::Q8_0, "ggml-vocab-qwen2.gguf"),
        ("qwen2", GgmlType::F16, "ggml-vocab-qwen2.gguf"),
    ] {
        let path = common::fixture_path(arch, wtype);
        let f = GgufFile::open(&path).unwrap();
        let v = GgufFile::open(common::vocab(vocab)).unwrap();
        assert_eq!(
            f.metadata().get("tokenizer.ggml.tokens"),
            v.metadata().get("tokenizer.ggml.tokens")
        );
        assert!(
            f.metadata()
                .get_str("tokenizer.chat_template")
                .unwrap()
                .is_some()
        );
        assert!(std::fs::metadata(&path).unwrap().len() < 40 << 20);
        let lm = switchyard_local::LocalModel::load(&path, &Default::default()).unwrap();
        let prompt = lm
            .tokenizer()
            .encode("The quick brown fox jumps over", true, false)
            .unwrap();
        let model = lm.model();
        let mut seq = model.new_sequence(lm.kv_type(), 64).unwrap();
        let all = model.forward(&mut seq, &prompt, Logits::All).unwrap();
        let mut margins: Vec<f32> = all
            .chunks_exact(model.n_vocab())
            .map(|row| {
                let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
                for &x in row {
                    if x > a {
                        b = a;
                        a = x;
                    } else if x > b {
                        b = x;
                    }
                }
                a - b
            })
            .collect();
        margins.sort_by(f32::total_cmp);
        let median = margins[margins.len() / 2];
        assert!(
            median > 0.5,
            "{arch} {wtype}: median top-2 margin {median} ({margins:?})"
        );
    }
}

#[test]
fn same_seed_writes_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("switchyard-fixture-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = switchyard_local::fixture::FixtureSpec::tiny("qwen2", GgmlType::Q8_0);
    let vocab = common::vocab("ggml-vocab-qwen2.gguf");
    let (a, b) = (dir.join("a.gguf"), dir.join("b.gguf"));
    switchyard_local::fixture::write_fixture(&spec, &vocab, &a).unwrap();
    switchyard_local::fixture::write_fixture(&spec, &vocab, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
