use super::*;

const NO_ENV: [(&str, &str); 0] = [];

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &NO_ENV, &Overrides::default())
}

#[test]
fn defaults_include_builtin_grok_beta() {
    let c = load("").unwrap();
    assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.server.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    let m = c.models.iter().find(|m| m.id == "x-ai/grok-beta").unwrap();
    assert_eq!(m.provider, "xai");
    assert_eq!(m.upstream_model(), "grok-beta");
    let p = c.provider("xai").unwrap();
    assert_eq!(p.base_url.as_deref(), Some("https://api.x.ai/v1"));
    assert_eq!(p.api_key_env.as_deref(), Some("XAI_API_KEY"));
    assert!(c.server.effective_database_url().starts_with("sqlite://"));
}

#[test]
fn issue_example_shape_parses() {
    let c = load(
        r#"
[[providers]]
name = "xai"
kind = "openai"
base_url = "https://api.x.ai/v1"
api_key_env = "XAI_API_KEY"

[[models]]
id = "x-ai/grok-beta"
provider = "xai"
upstream_model = "grok-beta"
prices = { prompt = 5.0, cached_prompt = 2.5, completion = 15.0 }
"#,
    )
    .unwrap();
    assert_eq!(c.models.len(), 1, "file entry replaces the built-in one");
    assert_eq!(c.models[0].prices.cached_prompt, Some(2.5));
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let text = "[server]\nlisten = \"127.0.0.1:1000\"\n";
    let env = [
        ("SWITCHYARD_LISTEN", "127.0.0.1:2000"),
        ("SWITCHYARD_DATABASE_URL", "postgres://db/x"),
    ];
    let c = Config::from_toml(text, "t", &env, &Overrides::default()).unwrap();
    assert_eq!(c.server.listen.port(), 2000);
    assert_eq!(c.server.database_url.as_deref(), Some("postgres://db/x"));
    let flags = Overrides {
        listen: Some("127.0.0.1:3000".into()),
        ..Default::default()
    };
    let c = Config::from_toml(text, "t", &env, &flags).unwrap();
    assert_eq!(c.server.listen.port(), 3000);
}

#[test]
fn errors_name_file_key_and_problem() {
    let e = load("[server]\nlisten = \"nowhere\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("test.toml") && e.contains("server.listen") && e.contains("nowhere"),
        "{e}"
    );

    let e = load("[server]\nlisten = 5\n").unwrap_err().to_string();
    assert!(e.contains("test.toml") && e.contains("listen"), "{e}");

    let e = load("[sever]\n").unwrap_err().to_string();
    assert!(e.contains("test.toml") && e.contains("sever"), "{e}");

    let e = load("[[models]]\nid = \"a\"\nprovider = \"nope\"\nprices = { prompt = 1.0, completion = 1.0 }\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("models[0].provider") && e.contains("nope"),
        "{e}"
    );

    let e = load("[[models]]\nid = \"a\"\nprovider = \"xai\"\nprices = { prompt = -1.0, completion = 1.0 }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("models[0].prices.prompt"), "{e}");

    let e = load("[[providers]]\nname = \"v\"\nkind = \"openai\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("providers[0].base_url"), "{e}");

    let e = load("[[providers]]\nname = \"v\"\nkind = \"grpc\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("test.toml") && e.contains("grpc"), "{e}");
}

#[test]
fn local_model_needs_a_path() {
    let e = load("[[models]]\nid = \"tiny\"\nprovider = \"local\"\nprices = { prompt = 0.0, completion = 0.0 }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("models[0].path"), "{e}");
    let c = load(
        "[[models]]\nid = \"tiny\"\nprovider = \"local\"\npath = \"m.gguf\"\nprices = { prompt = 0.0, completion = 0.0 }\n",
    )
    .unwrap();
    assert_eq!(c.models.len(), 2);
}

#[test]
fn duplicate_alias_refused() {
    let e = load("[[models]]\nid = \"grok-beta\"\nprovider = \"xai\"\nprices = { prompt = 1.0, completion = 1.0 }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("grok-beta") && e.contains("twice"), "{e}");
}

#[test]
fn builtin_can_be_disabled() {
    let c = load("[catalogue]\nbuiltin = false\n").unwrap();
    assert!(c.models.is_empty() && c.providers.is_empty());
}

#[test]
fn missing_file_error_names_path() {
    let e = Config::load(
        Some(Path::new("/nonexistent/sy.toml")),
        &NO_ENV,
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/sy.toml"));
}

#[test]
fn api_key_resolution_prefers_literal_then_env() {
    let c = load("").unwrap();
    let p = c.provider("xai").unwrap();
    assert_eq!(p.resolve_api_key(&NO_ENV), None);
    assert_eq!(
        p.resolve_api_key(&[("XAI_API_KEY", "k1")]).as_deref(),
        Some("k1")
    );
}

#[test]
fn example_config_in_repo_root_is_valid() {
    let text = include_str!("../../../switchyard.example.toml");
    let c = load(text).unwrap();
    assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(
        c.models.iter().filter(|m| m.id == "x-ai/grok-beta").count(),
        1
    );
}

#[test]
fn bad_database_url_error_does_not_echo_the_url() {
    let env = [("SWITCHYARD_DATABASE_URL", "mysql://user:hunter2@db/x")];
    let e = Config::from_toml("", "t", &env, &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.database_url"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}
