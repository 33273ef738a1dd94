//! Configuration: TOML file plus environment overrides, checked into one typed Config.
