//! `switchyard credits add EMAIL AMOUNT --note TEXT`: grant credit (USD) to
//! an account; each grant is a TOPUP transaction.

use std::str::FromStr;

use clap::{Args, Subcommand};
use switchyard_platform::{Nanos, TxKind};

use super::{
    CliError, StoreArgs,
    keys::{account_by_email, open_platform, platform_err},
};

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add credit to an account's balance.
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The account's email.
    pub email: String,
    /// US dollars to add (a positive number, e.g. 12.50).
    #[arg(allow_negative_numbers = true)]
    pub amount: String,
    /// Why the credit is granted (shown with the transaction).
    #[arg(long)]
    pub note: String,
    /// The transaction type: payment, bonus, refund or adjustment.
    #[arg(long, default_value = "adjustment")]
    pub kind: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(cmd: CreditsCommand) -> Result<(), CliError> {
    match cmd {
        CreditsCommand::Add(a) => add(a).await,
    }
}

/// A positive, finite USD amount as nano-dollars.
fn parse_amount(s: &str) -> Result<Nanos, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "AMOUNT must be a positive number of US dollars, not `{s}`"
        ))
    };
    let usd: f64 = s.trim().parse().map_err(|_| bad())?;
    if !usd.is_finite() || usd <= 0.0 {
        return Err(bad());
    }
    match Nanos::from_usd(usd) {
        Some(n) if n > Nanos::ZERO => Ok(n),
        _ => Err(bad()),
    }
}

fn parse_kind(s: &str) -> Result<TxKind, CliError> {
    let kind = TxKind::from_str(&s.trim().to_ascii_uppercase());
    match kind {
        Ok(k @ (TxKind::Payment | TxKind::Bonus | TxKind::Refund | TxKind::Adjustment)) => Ok(k),
        _ => Err(CliError::Usage(format!(
            "--kind must be payment, bonus, refund or adjustment, not `{s}`"
        ))),
    }
}

async fn add(a: AddArgs) -> Result<(), CliError> {
    let amount = parse_amount(&a.amount)?;
    let kind = parse_kind(&a.kind)?;
    if a.note.trim().is_empty() {
        return Err(CliError::Usage("--note must not be empty".into()));
    }
    let platform = open_platform(&a.store).await?;
    let res = async {
        let account = account_by_email(&platform, &a.email).await?;
        let tx = platform
            .grant(&account.id, amount, kind, Some(a.note.trim()), None)
            .await
            .map_err(platform_err)?;
        let wallet = platform.wallet(&account.id).await.map_err(platform_err)?;
        Ok::<_, CliError>((account, tx, wallet))
    }
    .await;
    platform.store().close().await;
    let (account, tx, wallet) = res?;
    eprintln!(
        "Added {} to {} ({} transaction {}). Balance: {}.",
        tx.amount,
        account.email,
        tx.kind.as_str(),
        tx.id,
        wallet.balance
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_positive_finite_dollars() {
        assert_eq!(parse_amount("12.5").unwrap(), Nanos(12_500_000_000));
        assert_eq!(parse_amount(" 0.000000001 ").unwrap(), Nanos(1));
        for bad in ["0", "-5", "lots", "", "NaN", "inf", "1e300", "0.0000000001"] {
            assert!(
                matches!(parse_amount(bad), Err(CliError::Usage(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn kinds_are_the_grant_types() {
        assert_eq!(parse_kind("bonus").unwrap(), TxKind::Bonus);
        assert_eq!(parse_kind("ADJUSTMENT").unwrap(), TxKind::Adjustment);
        assert!(parse_kind("model_usage").is_err());
        assert!(parse_kind("gift").is_err());
    }
}
