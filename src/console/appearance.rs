//! How the console looks: light or dark (following the system unless chosen), how large
//! (scaling for high-density or distant screens), and the start-up choices that pick a tab
//! and theme without a window manager (the screenshot gallery uses them).

use eframe::egui;
use serde::{Deserialize, Serialize};

use super::Tab;

/// The theme chosen in the top bar; `System` follows the desktop's light or dark setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    pub const ALL: [ThemeChoice; 3] = [ThemeChoice::System, ThemeChoice::Light, ThemeChoice::Dark];

    pub fn label(self) -> &'static str {
        match self {
            ThemeChoice::System => "System",
            ThemeChoice::Light => "Light",
            ThemeChoice::Dark => "Dark",
        }
    }

    pub fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }

    pub fn parse(text: &str) -> Option<ThemeChoice> {
        match text.trim().to_ascii_lowercase().as_str() {
            "system" => Some(ThemeChoice::System),
            "light" => Some(ThemeChoice::Light),
            "dark" => Some(ThemeChoice::Dark),
            _ => None,
        }
    }
}

/// The scales offered in the View menu; `--scale`/`PAYDESK_SCALE` may set any in range.
pub const SCALES: [f32; 5] = [1.0, 1.25, 1.5, 1.75, 2.0];
pub const MIN_SCALE: f32 = 0.5;
pub const MAX_SCALE: f32 = 3.0;

/// Reads a scale such as `1.25`, `125%`; `None` when it is not a number in range.
pub fn parse_scale(text: &str) -> Option<f32> {
    let text = text.trim();
    let value: f32 = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f32>().ok()? / 100.0,
        None => text.parse().ok()?,
    };
    (MIN_SCALE..=MAX_SCALE).contains(&value).then_some(value)
}

/// Every tab with its label and its start-up name (`PAYDESK_START_TAB`), in tab-bar order.
pub const TABS: &[(Tab, &str, &str)] = &[
    (Tab::Deposits, "Deposits", "deposits"),
    (Tab::Payouts, "Payouts", "payouts"),
    (Tab::Workbench, "Signature workbench", "workbench"),
    (Tab::NewPayout, "New payout", "new-payout"),
    (Tab::PayoutsSent, "Payouts sent", "payouts-sent"),
    (Tab::Approvals, "Awaiting approval", "awaiting-approval"),
    (Tab::Reconcile, "Reconcile", "reconcile"),
    (Tab::Batches, "GatePay batches", "batches"),
    (Tab::NewBatch, "New batch", "new-batch"),
    (Tab::SubOrders, "GatePay by date", "gatepay-by-date"),
    (Tab::Profiles, "Profiles", "profiles"),
    (Tab::Log, "Log", "log"),
];

pub fn parse_tab(text: &str) -> Option<Tab> {
    let text = text.trim().to_ascii_lowercase();
    TABS.iter()
        .find(|(_, label, name)| *name == text || label.to_ascii_lowercase() == text)
        .map(|(t, _, _)| *t)
}

/// Choices made at start-up that win over what was saved: the tab, the theme, the scale.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StartOptions {
    pub tab: Option<Tab>,
    pub theme: Option<ThemeChoice>,
    pub scale: Option<f32>,
}

pub const START_TAB_ENV: &str = "PAYDESK_START_TAB";
pub const THEME_ENV: &str = "PAYDESK_THEME";
pub const SCALE_ENV: &str = "PAYDESK_SCALE";

impl StartOptions {
    /// From the flags given (`--tab`, `--theme`, `--scale`), else the environment; a value
    /// that does not read is reported and ignored rather than stopping the console.
    pub fn resolve(
        tab: Option<&str>,
        theme: Option<&str>,
        scale: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> (StartOptions, Vec<String>) {
        let mut problems = Vec::new();
        let pick = |flag: Option<&str>, name: &str| flag.map(str::to_owned).or_else(|| env(name));
        let (tab, theme, scale) = (
            pick(tab, START_TAB_ENV),
            pick(theme, THEME_ENV),
            pick(scale, SCALE_ENV),
        );
        let mut read = |text: Option<String>, what: &str, parse: &dyn Fn(&str) -> bool| {
            if let Some(t) = &text
                && !parse(t)
            {
                problems.push(format!("{what} “{t}” is not recognised and was ignored"));
            }
        };
        read(tab.clone(), "The start tab", &|t| parse_tab(t).is_some());
        read(theme.clone(), "The theme", &|t| {
            ThemeChoice::parse(t).is_some()
        });
        read(scale.clone(), "The scale", &|t| parse_scale(t).is_some());
        (
            StartOptions {
                tab: tab.as_deref().and_then(parse_tab),
                theme: theme.as_deref().and_then(ThemeChoice::parse),
                scale: scale.as_deref().and_then(parse_scale),
            },
            problems,
        )
    }
}

/// Applies the theme and scale to the context (each frame is cheap: egui compares first).
pub fn apply(ctx: &egui::Context, theme: ThemeChoice, scale: f32) {
    if ctx.options(|o| o.theme_preference) != theme.preference() {
        ctx.set_theme(theme.preference());
    }
    if (ctx.zoom_factor() - scale).abs() > f32::EPSILON {
        ctx.set_zoom_factor(scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_options_read_flags_before_the_environment() {
        let env = |k: &str| match k {
            START_TAB_ENV => Some("payouts-sent".to_owned()),
            THEME_ENV => Some("dark".to_owned()),
            SCALE_ENV => Some("125%".to_owned()),
            _ => None,
        };
        let (o, problems) = StartOptions::resolve(None, None, None, env);
        assert_eq!(o.tab, Some(Tab::PayoutsSent));
        assert_eq!(o.theme, Some(ThemeChoice::Dark));
        assert_eq!(o.scale, Some(1.25));
        assert!(problems.is_empty());
        let (o, problems) = StartOptions::resolve(Some("Profiles"), Some("light"), Some("9"), env);
        assert_eq!(o.tab, Some(Tab::Profiles));
        assert_eq!(o.theme, Some(ThemeChoice::Light));
        assert_eq!(o.scale, None);
        assert_eq!(problems.len(), 1);
    }
}
