//! `REPO[:FILE]` and `hf:REPO[:FILE]` specs.

use std::path::{Path, PathBuf};

use crate::HubError;

/// The prefix that marks a model path as a Hub reference in config (`hf:REPO:FILE`).
pub const HF_PREFIX: &str = "hf:";

/// Default revision (branch) on the Hub.
pub const DEFAULT_REVISION: &str = "main";

/// What to pull: a repository, optionally one file in it, at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpec {
    /// `owner/name` (or a bare legacy `name`).
    pub repo: String,
    /// Path of the file inside the repository; `None` = the repository's single `.gguf`.
    pub file: Option<String>,
    /// Branch, tag or commit; `main` unless set.
    pub revision: String,
}

impl HubSpec {
    /// Parses `REPO[:FILE]`, e.g. `Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf`.
    pub fn parse(s: &str) -> Result<HubSpec, HubError> {
        let s = s.trim();
        let (repo, file) = match s.split_once(':') {
            Some((r, f)) => (r, Some(f)),
            None => (s, None),
        };
        validate_repo(repo)?;
        let file = match file {
            Some(f) => {
                validate_file(f)?;
                Some(f.to_string())
            }
            None => None,
        };
        Ok(HubSpec {
            repo: repo.to_string(),
            file,
            revision: DEFAULT_REVISION.to_string(),
        })
    }

    /// Parses a config path: `Some(spec)` for `hf:REPO[:FILE]`, `None` for anything else (a local path).
    pub fn parse_hf_uri(s: &str) -> Option<Result<HubSpec, HubError>> {
        s.strip_prefix(HF_PREFIX).map(HubSpec::parse)
    }

    /// Sets the revision (branch, tag or commit).
    pub fn with_revision(mut self, revision: impl Into<String>) -> Result<HubSpec, HubError> {
        let revision = revision.into();
        validate_revision(&revision)?;
        self.revision = revision;
        Ok(self)
    }

    /// Where the file lands: `{data_dir}/models/{owner--name}/{file}`.
    pub fn local_path(&self, data_dir: &Path, file: &str) -> PathBuf {
        let mut p = data_dir.join("models").join(self.repo.replace('/', "--"));
        for part in file.split('/') {
            p.push(part);
        }
        p
    }
}

fn bad(spec: &str, why: &str) -> HubError {
    HubError::BadSpec {
        spec: spec.to_string(),
        reason: why.to_string(),
    }
}

fn name_ok(part: &str) -> bool {
    !part.is_empty()
        && part != "."
        && part != ".."
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `owner/name` or `name`: ASCII letters, digits, `-`, `_`, `.`.
fn validate_repo(repo: &str) -> Result<(), HubError> {
    if repo.is_empty() {
        return Err(bad(
            repo,
            "the repository is empty (expected OWNER/NAME[:FILE])",
        ));
    }
    let parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 2 {
        return Err(bad(repo, "a repository is OWNER/NAME (one '/')"));
    }
    if !parts.iter().all(|p| name_ok(p)) {
        return Err(bad(
            repo,
            "repository names use letters, digits, '-', '_' and '.' only",
        ));
    }
    Ok(())
}

/// A relative path inside the repository that cannot escape the target directory.
fn validate_file(file: &str) -> Result<(), HubError> {
    if file.is_empty() {
        return Err(bad(file, "the file name after ':' is empty"));
    }
    if file.contains('\\') || file.contains('\0') || file.contains(':') {
        return Err(bad(file, "the file name contains '\\', ':' or NUL"));
    }
    for part in file.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(bad(
                file,
                "the file must be a relative path inside the repository (no empty, '.' or '..' parts)",
            ));
        }
    }
    Ok(())
}

fn validate_revision(rev: &str) -> Result<(), HubError> {
    let ok = !rev.is_empty()
        && !rev.contains("..")
        && !rev.starts_with('/')
        && rev
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(bad(rev, "not a valid revision (branch, tag or commit)"))
    }
}

/// Percent-encodes a URL path, keeping `/` (file paths inside a repository).
pub(crate) fn encode_path(path: &str) -> String {
    encode(path, true)
}

/// Percent-encodes one URL path segment, `/` included (revisions such as `refs/pr/1`).
pub(crate) fn encode_segment(segment: &str) -> String {
    encode(segment, false)
}

fn encode(path: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repo_and_file() {
        let s = HubSpec::parse("Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf")
            .unwrap();
        assert_eq!(s.repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF");
        assert_eq!(s.file.as_deref(), Some("qwen2.5-0.5b-instruct-q4_k_m.gguf"));
        assert_eq!(s.revision, "main");
    }

    #[test]
    fn parses_repo_only_and_subdir_file() {
        let s = HubSpec::parse("owner/name").unwrap();
        assert_eq!(s.repo, "owner/name");
        assert_eq!(s.file, None);
        let s = HubSpec::parse("owner/name:Q4_K_M/model-00001-of-00002.gguf").unwrap();
        assert_eq!(s.file.as_deref(), Some("Q4_K_M/model-00001-of-00002.gguf"));
        let p = s.local_path(Path::new("/d"), s.file.as_deref().unwrap());
        assert_eq!(
            p,
            Path::new("/d/models/owner--name/Q4_K_M/model-00001-of-00002.gguf")
        );
    }

    #[test]
    fn hf_uri() {
        assert!(HubSpec::parse_hf_uri("models/x.gguf").is_none());
        assert!(HubSpec::parse_hf_uri("/abs/hf:x.gguf").is_none());
        let s = HubSpec::parse_hf_uri("hf:a/b:c.gguf").unwrap().unwrap();
        assert_eq!(
            (s.repo.as_str(), s.file.as_deref()),
            ("a/b", Some("c.gguf"))
        );
        assert!(HubSpec::parse_hf_uri("hf:").unwrap().is_err());
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            ":x.gguf",
            "a/b/c",
            "a//b",
            "a/b:",
            "a/b:../x.gguf",
            "a/b:x/../../y.gguf",
            "a/b:/etc/passwd",
            "a/b:x\\y.gguf",
            "a/b:x.gguf:z",
            "a b/c",
            "../x",
        ] {
            let e = HubSpec::parse(bad);
            assert!(
                matches!(e, Err(HubError::BadSpec { .. })),
                "{bad:?} gave {e:?}"
            );
        }
    }

    #[test]
    fn revisions() {
        let s = HubSpec::parse("a/b").unwrap();
        assert_eq!(s.clone().with_revision("v1.0").unwrap().revision, "v1.0");
        assert_eq!(
            s.clone().with_revision("refs/pr/1").unwrap().revision,
            "refs/pr/1"
        );
        assert!(s.clone().with_revision("../x").is_err());
        assert!(s.with_revision("").is_err());
    }

    #[test]
    fn encodes_paths() {
        assert_eq!(encode_path("a/b c+d.gguf"), "a/b%20c%2Bd.gguf");
        assert_eq!(encode_path("Q4_K_M/x-1.gguf"), "Q4_K_M/x-1.gguf");
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
    }
}
