//! The team journal's schema (`schema.sql`): installed once by the role that will own it, its
//! version kept in `paydesk.meta`; a server set up by a newer Paydesk is refused.

use super::TeamError;
use super::store::db_error;

/// The schema version this Paydesk writes and reads.
pub const TEAM_SCHEMA_VERSION: i64 = 3;

/// Each version's step, in order: `STEPS[n]` brings a journal from version `n` to `n + 1`
/// (`:operators` stands for the operators' group role).
const STEPS: [&str; 3] = [
    include_str!("schema.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
];

/// Whether `name` may be used as a role name as written (no quoting games).
pub(crate) fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Installs the team journal in the connected database, owned by the connected role, with
/// operators' grants given to the group role `operators` (created if missing; operators are
/// its members), or brings one set up by an older Paydesk up to this version (its operators'
/// role stays the one it was set up with). Already at this version: nothing is done (`false`).
pub fn install_schema(client: &mut postgres::Client, operators: &str) -> Result<bool, TeamError> {
    if !plain_identifier(operators) {
        return Err(TeamError::Url(format!(
            "the operators' role name {operators:?} must be lower-case letters, digits and underscores"
        )));
    }
    super::connect::off_runtime(|| {
        let mut tx = client.transaction().map_err(db_error)?;
        // One installer at a time.
        tx.execute("SELECT pg_advisory_xact_lock(7305941)", &[])
            .map_err(db_error)?;
        let found = version_in(&mut tx)?;
        let from = match found {
            Some(found) if found > TEAM_SCHEMA_VERSION => {
                return Err(TeamError::NewerSchema {
                    found,
                    supported: TEAM_SCHEMA_VERSION,
                });
            }
            Some(found) if found == TEAM_SCHEMA_VERSION => return Ok(false),
            Some(found) => found,
            None => 0,
        };
        let operators = if from == 0 {
            tx.batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {operators} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            ))
            .map_err(db_error)?;
            operators.to_owned()
        } else {
            let kept: Option<String> = tx
                .query_opt(
                    "SELECT value FROM paydesk.meta WHERE key = 'operators'",
                    &[],
                )
                .map_err(db_error)?
                .map(|r| r.get(0));
            kept.filter(|k| plain_identifier(k)).ok_or_else(|| {
                TeamError::Corrupt("paydesk.meta names no usable operators' role".into())
            })?
        };
        for step in STEPS
            .iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
        {
            tx.batch_execute(&step.replace(":operators", &operators))
                .map_err(db_error)?;
        }
        tx.execute(
            "INSERT INTO paydesk.meta (key, value) VALUES ('schema_version', $1), ('operators', $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&TEAM_SCHEMA_VERSION.to_string(), &operators],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(true)
    })
}

/// The installed schema version, or `None` where the team journal is not set up.
fn version_in(tx: &mut postgres::Transaction<'_>) -> Result<Option<i64>, TeamError> {
    let has = tx
        .query_one("SELECT to_regclass('paydesk.meta') IS NOT NULL", &[])
        .map_err(db_error)?;
    if !has.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = tx
        .query_opt(
            "SELECT value FROM paydesk.meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(db_error)?;
    let text: String = row
        .map(|r| r.get(0))
        .ok_or_else(|| TeamError::Corrupt("paydesk.meta has no schema_version".into()))?;
    text.parse()
        .map(Some)
        .map_err(|_| TeamError::Corrupt(format!("schema_version {text:?} is not a number")))
}

/// Checks that the connected database holds a team journal this Paydesk can use.
pub(super) fn check(client: &mut postgres::Client) -> Result<(), TeamError> {
    let mut tx = client.transaction().map_err(db_error)?;
    match version_in(&mut tx)? {
        None => Err(TeamError::NotSetUp(
            "its owner sets it up with `paydesk journal team-setup`".into(),
        )),
        Some(found) if found > TEAM_SCHEMA_VERSION => Err(TeamError::NewerSchema {
            found,
            supported: TEAM_SCHEMA_VERSION,
        }),
        Some(found) if found < TEAM_SCHEMA_VERSION => Err(TeamError::NotSetUp(format!(
            "it is at schema version {found}; its owner brings it up to date with `paydesk journal team-setup`"
        ))),
        Some(_) => Ok(()),
    }
}
