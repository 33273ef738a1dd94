//! API key format: prefix, public id, checksum; only a SHA-256 of the secret is stored.
