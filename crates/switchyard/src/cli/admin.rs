//! `switchyard admin create EMAIL [--password-stdin]`: make an administrator
//! (or promote an existing account and set its password).
//! `switchyard admin rate EMAIL [--rpm N] [--tpm N]`: an account's default
//! rate limits for its keys (see `rate.rs`).

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};

use super::{
    CliError, StoreArgs,
    keys::{open_platform, platform_err},
};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator, or make an existing account one and set its password.
    Create(CreateArgs),
    /// Show or set an account's default requests/tokens per minute for its
    /// keys (`inherit`: the server's default; 0: unlimited).
    Rate(super::rate::AccountRateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The administrator's email (lower-cased and trimmed).
    pub email: String,
    /// Read the password from the first line of standard input (for scripts).
    /// Without it, a terminal is prompted twice.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(cmd: AdminCommand) -> Result<(), CliError> {
    match cmd {
        AdminCommand::Create(a) => create(a).await,
        AdminCommand::Rate(a) => super::rate::account_rate(a).await,
    }
}

async fn create(a: CreateArgs) -> Result<(), CliError> {
    let password = if a.password_stdin {
        read_stdin_line(std::io::stdin().lock())?
    } else {
        prompt_twice()?
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password must not be empty".into()));
    }
    let platform = open_platform(&a.store).await?;
    let res = platform.create_admin(&a.email, &password).await;
    platform.store().close().await;
    let account = res.map_err(platform_err)?;
    eprintln!(
        "{} is an administrator (account {}); log in to the dashboard with this password.",
        account.email, account.id
    );
    Ok(())
}

/// The first line of `input` without its line ending.
fn read_stdin_line(mut input: impl BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| CliError::Runtime(format!("cannot read the password from stdin: {e}")))?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

fn prompt_twice() -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "standard input is not a terminal: pipe the password in with --password-stdin".into(),
        ));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::Runtime(format!("cannot read the password: {e}")))
    };
    let first = read("Password: ")?;
    let second = read("Repeat the password: ")?;
    if first != second {
        return Err(CliError::Usage("the passwords do not match".into()));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_read_without_its_line_ending() {
        let read = |s: &str| read_stdin_line(s.as_bytes()).unwrap();
        assert_eq!(read("secret pw\nsecond line\n"), "secret pw");
        assert_eq!(read("secret pw\r\n"), "secret pw");
        assert_eq!(read("no newline"), "no newline");
        assert_eq!(read(" spaces kept \n"), " spaces kept ");
        assert_eq!(read(""), "");
    }
}
