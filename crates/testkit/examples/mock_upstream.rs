//! Runs the mock OpenAI-compatible upstream on a fixed address, for Python
//! tests and latency benchmarks:
//!
//! `cargo run -p switchyard-testkit --example mock_upstream -- --listen 127.0.0.1:9999`
//!
//! Prints `listening on ADDR` on stdout once it accepts connections, then
//! serves until Ctrl-C or SIGTERM.

use std::{io::Write, net::SocketAddr, process::ExitCode};

use switchyard_testkit::MockUpstream;

fn parse_listen() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:9999".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            s if s.starts_with("--listen=") => listen = s["--listen=".len()..].to_owned(),
            "-h" | "--help" => {
                return Err(
                    "usage: mock_upstream [--listen ADDR]  (default 127.0.0.1:9999)".into(),
                );
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    listen
        .parse()
        .map_err(|e| format!("--listen '{listen}': {e}"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_listen() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mock_upstream: {e}");
            return ExitCode::from(2);
        }
    };
    let mock = match MockUpstream::bind(addr).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mock_upstream: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", mock.addr());
    let _ = out.flush();
    shutdown_signal().await;
    ExitCode::SUCCESS
}
