//! `paydesk verify` and `paydesk sign`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::credentials::{
    CnyCredentials, Need, process_env, resolve_cny, resolve_gatepay_secret,
};
use paydesk::domain::verify::{Located, parse_cny_input, verify_cny, verify_gatepay};
use paydesk::gateway::cny::sign::{Canonical, Verdict};
use paydesk::gateway::gatepay::sign::GatePayVerdict;

use super::output::terminal_safe;
use super::{EXIT_ERROR, EXIT_INVALID, load_profiles, read_input};

fn text_input(file: Option<&Path>) -> anyhow::Result<String> {
    let bytes = read_input(file)?;
    String::from_utf8(bytes).context("the input is not UTF-8 text")
}

/// The CNY objects of the input and the credentials to sign them with; `Err` is the exit
/// code when the input is not one (the reason is already printed).
fn cny_input(
    file: Option<&Path>,
    profile: Option<&str>,
) -> anyhow::Result<Result<(Vec<Located>, CnyCredentials), ExitCode>> {
    let text = text_input(file)?;
    let objects = match parse_cny_input(&text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Err(ExitCode::from(EXIT_ERROR)));
        }
    };
    let profiles = load_profiles()?;
    let creds = resolve_cny(&process_env, profiles.as_ref(), profile, Need::SigningKey)?;
    Ok(Ok((objects, creds)))
}

pub fn cny(
    file: Option<&Path>,
    profile: Option<&str>,
    explain: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (objects, creds) = match cny_input(file, profile)? {
        Ok(both) => both,
        Err(code) => return Ok(code),
    };
    let key = creds.require_md5_key()?;
    let reports = verify_cny(&objects, key, creds.sign_options);
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            println!(
                "{}\t{}\t{}",
                r.label,
                if r.order_id.is_empty() {
                    "-".to_owned()
                } else {
                    terminal_safe(&r.order_id)
                },
                r.verification.verdict.describe()
            );
            if let Some(w) = r.verification.warning {
                println!("  warning      {w}");
            }
            if explain {
                println!(
                    "  signed text  {}",
                    terminal_safe(&r.verification.canonical_masked)
                );
                for (field, why) in &r.verification.omitted {
                    println!("  left out     {field}: {}", why.reason());
                }
                for d in &r.diagnosis {
                    println!("  diagnosis    {d}");
                }
            }
        }
    }
    let all_valid = reports
        .iter()
        .all(|r| r.verification.verdict == Verdict::Valid);
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

pub fn gatepay(
    file: Option<&Path>,
    profile: Option<&str>,
    timestamp: &str,
    nonce: &str,
    signature: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let body = read_input(file)?;
    let profiles = load_profiles()?;
    let secret = resolve_gatepay_secret(&process_env, profiles.as_ref(), profile)?;
    let report = verify_gatepay(
        &secret,
        timestamp,
        nonce,
        &body,
        signature,
        SystemClock.now_ms(),
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.verdict.describe());
        println!("  signed text  {}", terminal_safe(&report.payload_preview));
        for d in &report.diagnosis {
            println!("  note         {d}");
        }
        for line in &report.callback {
            println!("  callback     {}", terminal_safe(line));
        }
    }
    Ok(if report.verdict == GatePayVerdict::Valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

pub fn sign_cny(file: Option<&Path>, profile: Option<&str>) -> anyhow::Result<ExitCode> {
    let (objects, creds) = match cny_input(file, profile)? {
        Ok(both) => both,
        Err(code) => return Ok(code),
    };
    let key = creds.require_md5_key()?;
    for o in &objects {
        let canonical = Canonical::of_exact(&o.object, creds.sign_options);
        if objects.len() > 1 {
            println!("{}", o.label);
        }
        println!(
            "signed text  {}",
            terminal_safe(&canonical.masked(creds.sign_options))
        );
        println!("sign         {}", canonical.sign(key, creds.sign_options));
    }
    Ok(ExitCode::SUCCESS)
}
