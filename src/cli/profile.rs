//! `paydesk profile`: settings to the config file, secrets to the OS keyring only.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use paydesk::domain::connection::{ConnectionError, ConnectionReport, test_connection};
use paydesk::domain::credentials::{GATEPAY_DEFAULT_BASE_URL, resolve_team_journal};
use paydesk::domain::journal::team::TeamUrl;
use paydesk::domain::journal::team::connect::check_connection;
use paydesk::domain::profiles::{
    GatewayKind, Profile, ProfileError, SecretKind, export_profile, import_profile,
};
use paydesk::gateway::cny::sign::{HexCase, KeySuffix, SignOptions, ZeroFields};
use paydesk::gateway::cny::{BankField, Brand};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::secret::Secret;

use super::{EXIT_ERROR, load_profiles};
use crate::{GatewayArg, ProfileAddArgs, ProfileCommand};

/// One secret from the terminal (not echoed) or a line of standard input; `None` if empty.
fn read_optional_secret(
    label: &str,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<Option<Secret>> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{label}: ")).context("reading from the terminal")?
    } else {
        lines.next().transpose()?.unwrap_or_default()
    };
    let text = text.trim();
    Ok((!text.is_empty()).then(|| Secret::new(text)))
}

fn read_secret(
    label: &str,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<Secret> {
    read_optional_secret(label, lines)?.with_context(|| format!("the {label} is empty"))
}

/// Records a profile change in the journal's audit log (a warning if the journal is not there).
fn audit_profile(action: &str, name: &str) {
    let logged = paydesk::domain::profiles::data_dir()
        .ok_or_else(|| "no data directory".to_owned())
        .and_then(|dir| {
            let mut j = paydesk::domain::journal::Journal::open(
                &paydesk::domain::journal::journal_path(&dir),
            )
            .map_err(|e| e.to_string())?;
            j.audit(
                paydesk::domain::journal::Actor::current().as_str(),
                action,
                name,
                paydesk::clock::Clock::now_secs(&paydesk::clock::SystemClock),
            )
            .map_err(|e| e.to_string())
        });
    if let Err(e) = logged {
        eprintln!("warning: the change was made but not written to the audit log: {e}");
    }
}

fn add(args: ProfileAddArgs) -> anyhow::Result<ExitCode> {
    let gateway = match args.gateway {
        GatewayArg::Cny => GatewayKind::Cny,
        GatewayArg::Gatepay => GatewayKind::Gatepay,
    };
    let base_url = match (&args.base_url, gateway) {
        (Some(u), _) => u.clone(),
        (None, GatewayKind::Gatepay) => GATEPAY_DEFAULT_BASE_URL.to_owned(),
        (None, GatewayKind::Cny) => {
            bail!("a CNY gateway profile needs --base-url (each brand has its own)")
        }
    };
    parse_base_url(&base_url)?;
    match gateway {
        GatewayKind::Cny if args.platform_id.is_empty() => {
            bail!("a CNY gateway profile needs --platform-id")
        }
        GatewayKind::Gatepay if args.client_id.is_empty() || args.on_behalf_of.is_empty() => {
            bail!("a GatePay profile needs --client-id and --on-behalf-of")
        }
        _ => {}
    }
    let sign = SignOptions {
        key_suffix: if args.key_suffix == "key-equals" {
            KeySuffix::KeyEquals
        } else {
            KeySuffix::Raw
        },
        hex_case: if args.hex_case == "upper" {
            HexCase::Upper
        } else {
            HexCase::Lower
        },
        zero_fields: if args.zero_fields == "dropped" {
            ZeroFields::Dropped
        } else {
            ZeroFields::Kept
        },
    };
    let mut brand = Brand::preset(&args.brand)
        .with_context(|| format!("--brand: no preset is named '{}'", args.brand))?;
    if let Some(f) = args.bank_field.as_deref() {
        brand.bank_field = BankField::parse(f)
            .with_context(|| format!("--bank-field: '{f}' is not a bank field"))?;
    }
    // `--team-journal none` removes it; left out, `--replace` keeps the profile's own.
    let (team_journal, keep_team_journal) = match args.team_journal.as_deref().map(str::trim) {
        None => (None, true),
        Some("none") => (None, false),
        Some(url) => {
            TeamUrl::parse(url)?;
            (Some(url.to_owned()), false)
        }
    };
    let mut profile = Profile {
        name: args.name.clone(),
        gateway,
        base_url,
        platform_id: args.platform_id,
        client_id: args.client_id,
        on_behalf_of: args.on_behalf_of,
        live: args.live,
        sign,
        brand,
        team_journal,
    };
    let mut profiles = load_profiles()?
        .context("this platform has no config directory; set PAYDESK_CONFIG_DIR")?;
    let kept = keep_team_journal && args.replace;
    if kept && let Some(existing) = profiles.get(&profile.name) {
        profile.team_journal.clone_from(&existing.team_journal);
    }
    save_with_secrets(&mut profiles, profile, args.replace, !kept)
}

/// Asks for the profile's secrets (terminal or standard input) and saves it. The team
/// journal's password is asked for when the command named the team journal
/// (`ask_team_password`); an empty answer stores none (a server that needs none).
fn save_with_secrets(
    profiles: &mut paydesk::domain::profiles::Profiles,
    profile: Profile,
    replace: bool,
    ask_team_password: bool,
) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut secrets = Vec::new();
    for kind in profile.gateway.secret_kinds() {
        secrets.push((*kind, read_secret(kind.label(), &mut lines)?));
    }
    let team = profile.team_journal_url()?;
    if team.is_some() && ask_team_password {
        let kind = SecretKind::TeamJournalPassword;
        match read_optional_secret(kind.label(), &mut lines)? {
            Some(password) => secrets.push((kind, password)),
            None => eprintln!(
                "note: no team journal password given; none is stored (the server must not ask for one)"
            ),
        }
    }
    let name = profile.name.clone();
    profiles.save(profile, &secrets, replace)?;
    audit_profile("profile changed", &format!("saved {name}"));
    println!(
        "saved profile '{name}' in {} (secrets in the OS keyring)",
        profiles.path().display()
    );
    if let Some(url) = team {
        println!("team journal: {}", url.target());
    }
    Ok(ExitCode::SUCCESS)
}

fn export(name: &str, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let profiles = load_profiles()?.context("no config directory")?;
    let profile = profiles
        .get(name)
        .with_context(|| format!("no profile is named '{name}'"))?;
    let text = export_profile(profile).map_err(anyhow::Error::msg)?;
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "wrote profile '{name}' to {} (settings only, no secrets)",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn import(file: &std::path::Path, name: Option<&str>, replace: bool) -> anyhow::Result<ExitCode> {
    let profile = import_profile(file, name)?;
    let mut profiles = load_profiles()?
        .context("this platform has no config directory; set PAYDESK_CONFIG_DIR")?;
    save_with_secrets(&mut profiles, profile, replace, true)
}

async fn test(name: Option<&str>, http: HttpSettings) -> anyhow::Result<ExitCode> {
    let profiles = load_profiles()?.context("no config directory")?;
    let profile = match name {
        Some(n) => profiles
            .get(n)
            .with_context(|| format!("no profile is named '{n}'"))?
            .clone(),
        None => profiles
            .active_name()
            .and_then(|n| profiles.get(n))
            .context("no active profile")?
            .clone(),
    };
    // The profile's own settings and keyring secrets, not the environment's.
    let mut secrets = Vec::new();
    for kind in profile.gateway.secret_kinds() {
        match profiles.secret(&profile.name, *kind) {
            Ok(secret) => secrets.push((*kind, secret)),
            Err(ProfileError::SecretMissing { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match test_connection(&profile, &secrets, http).await {
        Ok(ConnectionReport::Cny {
            platform_id,
            payouts_total,
        }) => println!("ok: connected as {platform_id}; {payouts_total} payouts visible"),
        Ok(ConnectionReport::GatePay {
            batch_found,
            clock_warning,
        }) => {
            if batch_found {
                println!("ok: GatePay accepted the credentials and found a batch");
            } else {
                println!("ok: GatePay accepted the credentials");
            }
            if let Some(w) = clock_warning {
                eprintln!("warning: {w}");
            }
        }
        Err(e @ (ConnectionError::MissingSecret { .. } | ConnectionError::Credentials(_))) => {
            return Err(e.into());
        }
        Err(e) => {
            eprintln!("failed: {e}");
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    }
    if let Some(team) = resolve_team_journal(&profiles, &profile)? {
        let target = team.url.target();
        let checked = tokio::task::spawn_blocking(move || {
            check_connection(&team.url, team.password.as_ref())
        })
        .await?;
        match checked {
            Ok(role) => println!("ok: team journal {target} reached as role {role}"),
            Err(e) => {
                eprintln!("failed: {e}");
                return Ok(ExitCode::from(EXIT_ERROR));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cmd: ProfileCommand, http: HttpSettings) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfileCommand::List => {
            let Some(profiles) = load_profiles()? else {
                println!("no profiles");
                return Ok(ExitCode::SUCCESS);
            };
            if profiles.list().is_empty() {
                println!("no profiles yet: add one with `paydesk profile add`");
            }
            for p in profiles.list() {
                let active = if profiles.active_name() == Some(p.name.as_str()) {
                    "*"
                } else {
                    " "
                };
                let id = match p.gateway {
                    GatewayKind::Cny if !p.brand.is_default() => format!(
                        "{}  sends {}, payouts queried at {}",
                        p.platform_id,
                        p.brand.bank_field.key(),
                        p.brand.paths.payouts_query
                    ),
                    GatewayKind::Cny => p.platform_id.clone(),
                    GatewayKind::Gatepay => format!("{} for {}", p.client_id, p.on_behalf_of),
                };
                println!(
                    "{active} {}  {}  {}  {}  {}",
                    p.name,
                    p.gateway.label(),
                    if p.live { "LIVE" } else { "test" },
                    p.base_url,
                    id
                );
                if let Some(team) = &p.team_journal {
                    println!("    team journal {team}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Add(args) => tokio::task::spawn_blocking(move || add(args)).await?,
        ProfileCommand::Use { name } => {
            let mut profiles = load_profiles()?.context("no config directory")?;
            profiles.set_active(&name)?;
            println!("'{name}' is now the active profile");
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Remove { name } => {
            let mut profiles = load_profiles()?.context("no config directory")?;
            profiles.remove(&name)?;
            audit_profile("profile changed", &format!("removed {name}"));
            println!("removed profile '{name}' and its secrets");
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Test { name } => test(name.as_deref(), http).await,
        ProfileCommand::Export { name, file } => {
            tokio::task::spawn_blocking(move || export(&name, &file)).await?
        }
        ProfileCommand::Import {
            file,
            name,
            replace,
        } => tokio::task::spawn_blocking(move || import(&file, name.as_deref(), replace)).await?,
    }
}
